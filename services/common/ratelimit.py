"""Rate limits per caller, on every API route: a partner system that loops, or someone guessing tokens, slows
down itself and nobody else.

The caller is the token's subject within its role; without a valid token it is the client's address (behind
the compose proxy, uvicorn takes it from ``X-Forwarded-For``). Each role has its own limit (``limits``'
notation: ``120/minute``); a role without one (the services calling each other) is not limited, nor is a partner
from the registry here (its own limit, set by the office, is kept by the request service's guard). Over the limit:
429 problem+json with ``Retry-After``. Health, readiness, metrics and the console's static files are exempt.

Counts are kept in this process (the ``limits`` library's sliding window): with several replicas each counts its
own share, so a caller gets at most replicas × the limit — still bounded, and no shared store is needed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import SlidingWindowCounterRateLimiter
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from services.common.auth import TokenVerifier
from services.common.problems import Problem, TooManyRequests, send_problem
from services.common.routing import route_path

__all__ = ["ANONYMOUS", "EXEMPT_PREFIXES", "RateLimits"]

ANONYMOUS = "anonymous"
REGISTERED = "registered-partner"
EXEMPT_PREFIXES = ("/healthz", "/readyz", "/metrics", "/console")


class RateLimits:
    """ASGI middleware: at most ``limits[role]`` calls per caller (module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        verifier: TokenVerifier,
        limits: Mapping[str, str],
        exempt: Iterable[str] = EXEMPT_PREFIXES,
    ) -> None:
        self.app = app
        self.verifier = verifier
        self.items: dict[str, RateLimitItem] = {role: parse(text) for role, text in limits.items()}
        self.exempt = tuple(exempt)
        self.limiter = SlidingWindowCounterRateLimiter(MemoryStorage())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or route_path(scope).startswith(self.exempt) or not self.items:
            await self.app(scope, receive, send)
            return
        role, caller = self._caller(scope)
        item = self.items.get(role) if role != REGISTERED else None
        if item is not None and not self.limiter.hit(item, role, caller):
            reset = self.limiter.get_window_stats(item, role, caller).reset_time
            retry_after = max(1, math.ceil(reset - time.time()))
            problem = TooManyRequests(
                f"more than {item.amount} calls in {item.get_expiry()} s; retry in {retry_after} s",
                kind="rate-limited",
                retry_after=retry_after,
                headers={"Retry-After": str(retry_after)},
            )
            await send_problem(problem, scope, send)
            return
        await self.app(scope, receive, send)

    def _caller(self, scope: Scope) -> tuple[str, str]:
        scheme, _, token = Headers(scope=scope).get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            try:
                principal = self.verifier.verify(token.strip())
            except Problem:
                pass  # a bad token counts against the address it came from
            else:
                # A registered partner's limit is its own, in the registry (the request service's guard).
                return (REGISTERED if principal.registered else principal.role.value), principal.subject
        client = scope.get("client")
        return ANONYMOUS, client[0] if client else "unknown"
