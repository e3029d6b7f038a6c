"""Errors as RFC 9457 problem+json, naming the field and the reason.

Exception tree::

    Problem                      any expected failure; carries status and the problem body
     ├── BadRequest              400
     ├── Unauthorized            401  no token, a bad one, or an expired one
     ├── Forbidden               403  the token's role or scope does not allow it
     ├── NotFound                404
     ├── Conflict                409  the state forbids it (duplicate, already consumed, no blanks …)
     ├── ContentTooLarge         413  the body is larger than the route accepts
     ├── Unprocessable           422  the input is invalid; ``errors`` lists each field and reason
     ├── TooManyRequests         429  the caller's rate limit; ``Retry-After`` says when to come back
     └── ServiceUnavailable      503  a dependency (database, peer service) does not answer

Endpoints raise these; ``install_problem_handlers`` turns them, and FastAPI's own validation errors, into
``application/problem+json`` responses. An unexpected exception becomes a 500 problem without details.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

import sqlalchemy.exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = [
    "BODY_LIMIT_SCOPE_KEY",
    "PROBLEM_DESCRIPTIONS",
    "PROBLEM_JSON",
    "PROBLEM_SCHEMA_REF",
    "BadRequest",
    "Conflict",
    "ContentTooLarge",
    "FieldError",
    "Forbidden",
    "NotFound",
    "Problem",
    "ProblemBody",
    "ServiceUnavailable",
    "TooManyRequests",
    "Unauthorized",
    "Unprocessable",
    "install_problem_handlers",
    "problem_responses",
    "problem_schemas",
    "send_problem",
]

PROBLEM_JSON = "application/problem+json"
# The problem+json body's schema in each service's OpenAPI document (services.common.openapi puts it there).
PROBLEM_SCHEMA_REF = "#/components/schemas/Problem"
# What each status means, whichever operation answers it: the OpenAPI document's wording.
PROBLEM_DESCRIPTIONS: dict[int, str] = {
    400: "Bad request",
    401: "No token, or a bad, expired or revoked one",
    403: "The token's role or scope does not allow this",
    404: "Not found",
    409: "The current state does not allow this",
    413: "The body is larger than this route accepts",
    422: "Invalid input: `errors` names each field and the reason",
    429: "Too many calls from this caller: wait for Retry-After",
    503: "A dependency (database, peer service) does not answer; retry",
}
PROBLEM_BASE = "https://ektp-print.example/problems/"
# Where the body limit of the route being served is kept in the ASGI scope (services.common.bodies).
BODY_LIMIT_SCOPE_KEY = "ektp.max_body_bytes"

log = logging.getLogger(__name__)


class FieldError(BaseModel):
    """One invalid field: where it is (dotted path, or ``row``/``field`` for batches) and why."""

    field: str
    reason: str
    row: int | None = None


class ProblemBody(BaseModel):
    """The problem+json document (RFC 9457) with an ``errors`` extension."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[FieldError] | None = None


class Problem(Exception):
    """An expected failure with an HTTP status and a problem+json body."""

    status = 500
    title = "Internal Server Error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        kind: str | None = None,
        errors: Sequence[FieldError] | None = None,
        headers: dict[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.kind = kind
        self.errors = list(errors) if errors else None
        self.headers = headers or {}
        self.extensions = extensions

    def body(self, instance: str | None = None) -> dict[str, Any]:
        body = ProblemBody(
            type=PROBLEM_BASE + self.kind if self.kind else "about:blank",
            title=self.title,
            status=self.status,
            detail=self.detail,
            instance=instance,
            errors=self.errors,
        ).model_dump(exclude_none=True)
        body.update(self.extensions)
        return body


class BadRequest(Problem):
    status, title = 400, "Bad Request"


class Unauthorized(Problem):
    status, title = 401, "Unauthorized"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kw)


class Forbidden(Problem):
    status, title = 403, "Forbidden"


class NotFound(Problem):
    status, title = 404, "Not Found"


class Conflict(Problem):
    status, title = 409, "Conflict"


class Unprocessable(Problem):
    status, title = 422, "Unprocessable Content"

    @classmethod
    def field(cls, field: str, reason: str, **kw: Any) -> Unprocessable:
        """One invalid field, named with the reason."""
        return cls(f"{field}: {reason}", kind="validation", errors=[FieldError(field=field, reason=reason)], **kw)


class ContentTooLarge(Problem):
    status, title = 413, "Content Too Large"

    @classmethod
    def over(cls, limit: int | None) -> ContentTooLarge:
        """The body passed ``limit`` bytes; the server closes the connection (the rest is not read)."""
        detail = f"the request body is larger than the {limit} bytes this route accepts" if limit else None
        return cls(detail, kind="body-too-large", limit_bytes=limit, headers={"Connection": "close"})


class TooManyRequests(Problem):
    status, title = 429, "Too Many Requests"


class ServiceUnavailable(Problem):
    status, title = 503, "Service Unavailable"


def _response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_path(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:] or parts
    return ".".join(parts) or "body"


def install_problem_handlers(app: FastAPI) -> None:
    """Render every error of ``app`` as problem+json."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return _response(exc.status, exc.body(request.url.path), exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            FieldError(field=_field_path(e.get("loc", ())), reason=str(e.get("msg", "invalid"))) for e in exc.errors()
        ]
        problem = Unprocessable("; ".join(f"{e.field}: {e.reason}" for e in errors), kind="validation", errors=errors)
        return _response(422, problem.body(request.url.path))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 413:
            return _too_large(request)
        body = ProblemBody(title=str(exc.detail), status=exc.status_code, instance=request.url.path)
        return _response(exc.status_code, body.model_dump(exclude_none=True), dict(exc.headers or {}))

    @app.exception_handler(sqlalchemy.exc.OperationalError)
    @app.exception_handler(sqlalchemy.exc.InterfaceError)
    @app.exception_handler(ConnectionError)
    async def _database_down(request: Request, exc: Exception) -> JSONResponse:
        # The database is restarting or unreachable: a passing failure that callers retry, not a bug.
        log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc.__class__.__name__)
        problem = ServiceUnavailable("the database does not answer; retry shortly", kind="database-unavailable")
        return _response(503, problem.body(request.url.path), {"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        body = ProblemBody(title="Internal Server Error", status=500, instance=request.url.path)
        return _response(500, body.model_dump(exclude_none=True))


def _too_large(request: Request) -> JSONResponse:
    """A body refused by ``services.common.bodies.GuardBodies`` while the app read it: say so, with the limit."""
    problem = ContentTooLarge.over(request.scope.get(BODY_LIMIT_SCOPE_KEY))
    return _response(problem.status, problem.body(request.url.path), problem.headers)


async def send_problem(problem: Problem, scope: Any, send: Any) -> None:
    """Answer with ``problem`` straight from an ASGI middleware, before the app (and without reading the body)."""
    body = json.dumps(problem.body(scope["path"])).encode()
    headers = [(b"content-type", PROBLEM_JSON.encode()), (b"content-length", str(len(body)).encode())]
    headers += [(name.lower().encode(), value.encode()) for name, value in problem.headers.items()]
    await send({"type": "http.response.start", "status": problem.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def problem_schemas() -> dict[str, Any]:
    """The OpenAPI components ``PROBLEM_SCHEMA_REF`` names: ``Problem`` and the ``FieldError`` it lists."""
    schema = ProblemBody.model_json_schema(ref_template="#/components/schemas/{model}")
    return {**schema.pop("$defs", {}), "Problem": {**schema, "title": "Problem"}}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` entries documenting problem+json answers an operation gives besides those its
    dependencies, parameters and body already bring (services.common.openapi)."""
    content = {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}}
    return {s: {"description": PROBLEM_DESCRIPTIONS.get(s, "Problem"), "content": content} for s in statuses}
