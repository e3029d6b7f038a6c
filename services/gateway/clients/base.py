"""What both peer clients share: one call with an ``Idempotency-Key``, retried while the peer is down.

A 4xx is an answer (``PeerAnswer``, with the problem's ``kind``) and is never retried; connection errors,
429 and 5xx are retried with backoff by ``services.common.http.retrying`` — for the dispatch loop without
end (a printer waits while a peer is down), for an operator's call a few times.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import httpx

from services.common.http import retrying
from services.common.idempotency import IDEMPOTENCY_HEADER

__all__ = ["PeerAnswer", "PeerClient", "PeerPolicy"]


@dataclass(frozen=True, slots=True)
class PeerPolicy:
    """How long to keep trying a peer that does not answer."""

    attempts: int = 1_000_000_000
    max_seconds: float = math.inf
    initial_wait: float = 0.05
    max_wait: float = 5.0


class PeerAnswer(Exception):
    """The peer answered with a 4xx: ``status`` and the problem ``kind`` (the last part of its ``type``)."""

    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        try:
            self.body: dict[str, Any] = response.json()
        except ValueError:
            self.body = {"detail": response.text}
        kind = str(self.body.get("type") or "")
        self.kind = kind.rstrip("/").rsplit("/", 1)[-1] if kind else ""
        super().__init__(f"{response.request.method} {response.request.url.path} -> {self.status} {self.kind}")


class PeerClient:
    """Calls one peer service; subclasses name the calls."""

    def __init__(self, http: httpx.AsyncClient, *, policy: PeerPolicy | None = None) -> None:
        self.http = http
        self.policy = policy or PeerPolicy()

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        key: str | None = None,
        policy: PeerPolicy | None = None,
        read_timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        """The peer's 2xx answer; ``PeerAnswer`` for a 4xx; retries (per policy) anything else."""
        headers = {IDEMPOTENCY_HEADER: key} if key else {}
        use = policy or self.policy
        timeout = httpx.USE_CLIENT_DEFAULT if read_timeout is None else read_timeout

        async def once() -> httpx.Response:
            return await self.http.request(method, path, json=body, headers=headers, timeout=timeout)

        response = await retrying(
            once,
            attempts=use.attempts,
            max_seconds=use.max_seconds,
            initial_wait=use.initial_wait,
            max_wait=use.max_wait,
        )
        if response.status_code >= 400:
            raise PeerAnswer(response)
        return response
