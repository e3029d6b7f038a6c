"""Calls between services: one typed peer-client base, retries with backoff, problem+json → one exception tree.

``service_client(base_url, token=...)`` makes the httpx client; a ``PeerClient`` subclass names a peer's calls
(``gateway/clients/requests.py``, ``inventory/clients/requests.py``). ``PeerClient.call`` retries connection
errors, time-outs, 429 and 5xx with exponential backoff (tenacity) for as long as its ``PeerPolicy`` says, and
never another 4xx: that is the peer's answer. Calls that change state carry an ``Idempotency-Key`` (the job id
and step), so a retry after a lost answer is harmless.

Exception tree::

    PeerError                   the peer did not do what was asked
     ├── PeerUnavailable        no answer, or 429/5xx, after the policy's retries (``response`` if it answered)
     ├── PeerAnswer             a 4xx answer: ``status``, the problem ``kind`` (last part of its ``type``), ``body``
     └── PeerReplyInvalid       a 2xx whose body is not the contract's
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential,
    wait_random,
)

from services.common.idempotency import IDEMPOTENCY_HEADER

__all__ = [
    "PeerAnswer",
    "PeerClient",
    "PeerError",
    "PeerPolicy",
    "PeerReplyInvalid",
    "PeerUnavailable",
    "retrying",
    "service_client",
]

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=2.0)


class PeerError(Exception):
    """A call to a peer service that did not succeed."""


class PeerUnavailable(PeerError):
    """The peer answered 429/5xx, or not at all (``response`` is None then)."""

    def __init__(self, message: str, *, response: httpx.Response | None = None) -> None:
        super().__init__(message)
        self.response = response

    @classmethod
    def answered(cls, response: httpx.Response) -> PeerUnavailable:
        request = response.request
        return cls(f"{request.method} {request.url} -> {response.status_code}", response=response)


class PeerAnswer(PeerError):
    """The peer answered with a 4xx: ``status`` and the problem ``kind`` (the last part of its ``type``)."""

    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        try:
            self.body: dict[str, Any] = response.json()
        except ValueError:
            self.body = {"detail": response.text}
        kind = str(self.body.get("type") or "")
        self.kind = kind.rstrip("/").rsplit("/", 1)[-1] if kind else ""
        self.response = response
        super().__init__(f"{response.request.method} {response.request.url.path} -> {self.status} {self.kind}")


class PeerReplyInvalid(PeerError):
    """The peer said yes with a body that is not the contract's."""


@dataclass(frozen=True, slots=True)
class PeerPolicy:
    """How long to keep trying a peer that does not answer (the default: for ever, as a printer waits)."""

    attempts: int = 1_000_000_000
    max_seconds: float = math.inf
    initial_wait: float = 0.05
    max_wait: float = 5.0


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
    """Run ``call`` until it answers with something other than 429/5xx, with exponential backoff.

    After the last attempt: ``PeerUnavailable`` (a transport error is its ``__cause__``)."""
    try:
        async for attempt in AsyncRetrying(
            retry=retry_if_exception(_passing),
            stop=stop_after_attempt(attempts) | stop_after_delay(max_seconds),
            # Not wait_exponential_jitter(initial=...): tenacity 9 deprecates ``initial`` (a warning, an error in
            # tests).
            wait=wait_exponential(multiplier=initial_wait, max=max_wait) + wait_random(0, initial_wait),
            reraise=True,
        ):
            with attempt:
                response = await call()
                if response.status_code == 429 or response.status_code >= 500:
                    raise PeerUnavailable.answered(response)
                return response
    except httpx.TransportError as exc:
        request = exc.request if _has_request(exc) else None
        where = f"{request.method} {request.url}" if request is not None else "the peer"
        raise PeerUnavailable(f"{where}: no answer ({exc.__class__.__name__})") from exc
    raise AssertionError("unreachable")  # pragma: no cover


def _has_request(exc: httpx.TransportError) -> bool:
    try:
        exc.request  # noqa: B018 (httpx raises RuntimeError when the error has no request)
    except RuntimeError:
        return False
    return True


class PeerClient:
    """Calls one peer service; subclasses name the calls, and ``answers`` maps a 4xx's (status, problem kind) to
    the ``PeerAnswer`` subclass raised for it (e.g. ``(409, "lease-lost"): LeaseLost``)."""

    answers: dict[tuple[int, str], type[PeerAnswer]] = {}  # noqa: RUF012 (read-only, set by subclasses)

    def __init__(self, http: httpx.AsyncClient, *, policy: PeerPolicy | None = None) -> None:
        self.http = http
        self.policy = policy or PeerPolicy()

    @classmethod
    def for_a_person(
        cls,
        base_url: str,
        *,
        token: str | None,
        timeout: float,
        attempts: int,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> tuple[httpx.AsyncClient, PeerPolicy]:
        """The http client and policy of a call a person waits on (a page, a desk): ``attempts`` quick tries
        within ``timeout`` seconds, then the caller tells the person."""
        http = service_client(
            base_url, token=token, timeout=httpx.Timeout(timeout, connect=min(2.0, timeout)), transport=transport
        )
        return http, PeerPolicy(attempts=attempts, max_seconds=timeout, initial_wait=0.05, max_wait=0.5)

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        key: str | None = None,
        policy: PeerPolicy | None = None,
        read_timeout: httpx.Timeout | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """The peer's 2xx answer; ``PeerAnswer`` for a 4xx; ``PeerUnavailable`` once the policy gives up."""
        sent_headers = {**(headers or {}), **({IDEMPOTENCY_HEADER: key} if key else {})}
        use = policy or self.policy
        timeout = httpx.USE_CLIENT_DEFAULT if read_timeout is None else read_timeout

        async def once() -> httpx.Response:
            return await self.http.request(method, path, json=body, headers=sent_headers, timeout=timeout)

        response = await retrying(
            once,
            attempts=use.attempts,
            max_seconds=use.max_seconds,
            initial_wait=use.initial_wait,
            max_wait=use.max_wait,
        )
        if response.status_code >= 400:
            answer = PeerAnswer(response)
            raise self.answers.get((answer.status, answer.kind), PeerAnswer)(response)
        return response

    @staticmethod
    def json_of(response: httpx.Response) -> dict[str, Any]:
        """A report's answer as a JSON object, ``{}`` when empty or unreadable (the call itself succeeded)."""
        try:
            body = response.json() if response.content else {}
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    async def aclose(self) -> None:
        await self.http.aclose()
