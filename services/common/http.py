"""httpx clients for calls between services: time-outs, a service token, and retries with backoff.

``service_client(base_url, token=...)`` makes the client; ``retrying`` retries a call on connection errors,
time-outs, 429 and 5xx answers (never on other 4xx: those are answers, not passing failures). Calls that
change state carry an ``Idempotency-Key`` (the job id), so a retry after a lost answer is harmless.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_random,
)

__all__ = ["PeerUnavailable", "retrying", "service_client"]

T = TypeVar("T")

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=2.0)


class PeerUnavailable(Exception):
    """A peer service answered 429/5xx, or not at all."""

    def __init__(self, response: httpx.Response) -> None:
        super().__init__(f"{response.request.method} {response.request.url} -> {response.status_code}")
        self.response = response


def service_client(
    base_url: str,
    *,
    token: str | None = None,
    timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(
        base_url=base_url,
        headers=headers,
        timeout=timeout,
        transport=transport,
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
    )


def _passing(exc: BaseException) -> bool:
    return isinstance(exc, httpx.TransportError | PeerUnavailable)


async def retrying(
    call: Callable[[], Awaitable[httpx.Response]],
    *,
    attempts: int = 5,
    max_seconds: float = 30.0,
    initial_wait: float = 0.1,
    max_wait: float = 5.0,
) -> httpx.Response:
    """Run ``call`` until it answers with something other than 429/5xx, with exponential backoff."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(_passing),
        stop=stop_after_attempt(attempts) | stop_after_delay(max_seconds),
        # Not wait_exponential_jitter(initial=...): tenacity 9 deprecates ``initial`` (a warning, an error in tests).
        wait=wait_exponential(multiplier=initial_wait, max=max_wait) + wait_random(0, initial_wait),
        reraise=True,
    ):
        with attempt:
            response = await call()
            if response.status_code == 429 or response.status_code >= 500:
                raise PeerUnavailable(response)
            return response
    raise AssertionError("unreachable")  # pragma: no cover
