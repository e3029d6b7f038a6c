"""``build_app``: the FastAPI app every service starts from, with its database, auth, errors and health.

A service's ``create_app(settings)`` calls it with its routers and, if it needs one, a lifespan hook for
its own background work (the gateway's dispatch loops, the request service's lease sweeper).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from services.common.api_docs import install_api_docs
from services.common.auth import TokenVerifier
from services.common.bodies import GuardBodies
from services.common.db import Database
from services.common.logging import configure_logging
from services.common.observability import install_observability
from services.common.problems import PROBLEM_JSON, ProblemBody, install_problem_handlers
from services.common.ratelimit import RateLimits
from services.common.revocation import RevocationList
from services.common.settings import ServiceSettings

__all__ = ["Lifespan", "build_app"]

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def build_app(
    settings: ServiceSettings,
    *,
    service: str,
    title: str,
    description: str,
    database_url: str,
    routers: Sequence[APIRouter],
    lifespan: Lifespan | None = None,
    upload_limits: Sequence[tuple[str, int]] = (),
    public_paths: Iterable[str] = (),
    version: str = "0.1.0",
    **fastapi_kwargs: Any,
) -> FastAPI:
    """A service app: settings on ``app.state``, engine made at start-up and disposed at shutdown.

    Bodies are limited to ``settings.max_body_bytes``, those under the path prefixes of ``upload_limits`` to
    their own limit, and a body-carrying call needs a valid token before its body is read, but on
    ``public_paths`` (``services.common.bodies``).
    """
    configure_logging(service=service, level=settings.log_level, json_lines=settings.log_json)

    @contextlib.asynccontextmanager
    async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.db = Database(database_url, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow)
        try:
            if lifespan is None:
                yield
            else:
                async with lifespan(app):
                    yield
        finally:
            await app.state.db.dispose()

    # FastAPI's own /docs and /redoc load their files from a CDN: ours serve them from this service (api_docs).
    docs_url = fastapi_kwargs.pop("docs_url", "/docs")
    redoc_url = fastapi_kwargs.pop("redoc_url", "/redoc")
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=_lifespan,
        docs_url=None,
        redoc_url=None,
        **fastapi_kwargs,
    )
    app.state.settings = settings
    app.state.service = service
    # Called (in the event loop) as soon as the server is told to stop, before open calls are waited for.
    app.state.exit_hooks = []
    app.state.token_verifier = TokenVerifier(
        settings.public_key_pem(),
        audience=settings.jwt_audience,
        revoked=RevocationList(settings.revoked_tokens_file),
        staff_public_pem=settings.staff_public_key_pem(),
    )
    install_problem_handlers(app)
    app.add_middleware(
        GuardBodies,
        verifier=app.state.token_verifier,
        default_limit=settings.max_body_bytes,
        limits=upload_limits,
        public=public_paths,
    )
    app.add_middleware(RateLimits, verifier=app.state.token_verifier, limits=settings.rate_limits)
    if settings.cors_origins:
        # The office console (served by the request service) calls all three APIs from the browser.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )
    install_observability(app, service)
    for router in routers:
        app.include_router(router)
    install_api_docs(app, docs_url=docs_url, redoc_url=redoc_url)
    _document_problems(app)
    return app


# Answers any operation may give besides its own: bad input, auth, a missing object, a state conflict, a
# database that does not answer. All are application/problem+json (services.common.problems).
_COMMON_PROBLEMS = {
    "400": "Bad request",
    "401": "No token, or a bad or expired one",
    "403": "The token's role or scope does not allow this",
    "404": "Not found",
    "409": "The current state does not allow this",
    "413": "Too large",
    "429": "Too many calls from this caller: wait for Retry-After",
    "415": "Unsupported media type",
    "422": "Invalid input: each field and the reason",
    "503": "A dependency (database, peer service) does not answer; retry",
}


def _document_problems(app: FastAPI) -> None:
    """Make the OpenAPI document say what the handlers really answer: problem+json for every error status."""
    build_schema = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = build_schema()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        problem_schema = ProblemBody.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(problem_schema.pop("$defs", {}))
        components["Problem"] = problem_schema
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
        for path, operations in schema.get("paths", {}).items():
            if path in ("/healthz", "/metrics"):
                continue
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status, description in _COMMON_PROBLEMS.items():
                    responses[status] = {
                        "description": responses.get(status, {}).get("description", description),
                        "content": problem,
                    }
                for status, response in responses.items():
                    if status.startswith(("4", "5")):
                        response["content"] = problem
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
