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
from services.common.openapi import install_openapi, operation_id
from services.common.problems import install_problem_handlers
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
    ``public_paths`` (``services.common.bodies``). The OpenAPI document is the one generated clients need
    (``services.common.openapi``): operation ids from the route functions' names, each operation's errors.
    """
    configure_logging(service=service, level=settings.log_level, json_lines=settings.log_json)
    public_paths = tuple(public_paths)  # read twice: the body guard and the OpenAPI document

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
    fastapi_kwargs.setdefault("generate_unique_id_function", operation_id)
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
    install_openapi(app, public_paths=public_paths, rate_limited=bool(settings.rate_limits))
    return app
