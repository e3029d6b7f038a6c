"""Request bodies: bounded, and never read before the caller is authenticated.

FastAPI reads and parses a body before an endpoint's dependencies run, so ``Authorize`` alone would let anyone
make a service read and parse whatever they send. ``GuardBodies`` sits in front of the router and, for every
request that may carry a body (POST, PUT, PATCH, DELETE):

1. refuses a declared ``Content-Length`` over the route's limit at once (413);
2. checks the Bearer token (401), except on the paths a service names as public (a sign-in form); the role is
   still checked by the endpoint;
3. counts the bytes as the app reads them and stops at the limit (413), for a body sent without a length.

Each answer is problem+json, and nothing of a refused body is read beyond the limit. Limits are per path
prefix (an upload route has its own), the service's ``max_body_bytes`` elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.auth import TokenVerifier
from services.common.problems import BODY_LIMIT_SCOPE_KEY, ContentTooLarge, Problem, Unauthorized, send_problem
from services.common.routing import route_path

__all__ = ["BODY_METHODS", "BodyTooLarge", "GuardBodies"]

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` when a streamed body passes its limit. An ``HTTPException``, because FastAPI lets
    only those through its body parsing (anything else becomes a 400); the problem handlers render it."""

    def __init__(self) -> None:
        super().__init__(status_code=413)


class GuardBodies:
    """ASGI middleware: bodies within their limit, from an authenticated caller (module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: TokenVerifier,
        default_limit: int,
        limits: Iterable[tuple[str, int]] = (),
        public: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.default_limit = default_limit
        # The longest matching prefix wins.
        self.limits = sorted(limits, key=lambda item: len(item[0]), reverse=True)
        self.public = frozenset(public)

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.limits:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return limit
        return self.default_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        limit = self.limit_for(path)
        scope[BODY_LIMIT_SCOPE_KEY] = limit
        headers = Headers(scope=scope)
        try:
            declared = int(headers.get("content-length", "0"))
        except ValueError:
            declared = 0
        try:
            if declared > limit:
                raise ContentTooLarge.over(limit)
            if path not in self.public:
                self._authenticate(headers)
        except Problem as problem:
            await send_problem(problem, scope, send)
            return

        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        await self.app(scope, receive_within_limit, send)

    def _authenticate(self, headers: Headers) -> None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthorized("a Bearer token is required", kind="token-missing")
        self.verifier.verify(token.strip())
