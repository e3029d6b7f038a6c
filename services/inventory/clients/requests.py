"""The one call the inventory makes to the request service: the queue's backlog (``GET /v1/queue/stats``)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from pydantic import BaseModel, Field, ValidationError

from services.common.http import PeerUnavailable, retrying, service_client
from services.inventory.config import Settings

__all__ = ["Backlog", "QueueStats", "RequestServiceClient"]


class QueueStats(BaseModel):
    """The part of the request service's queue stats the forecast reads."""

    queued: int = Field(ge=0)
    urgent_queued: int | None = None
    regular_queued: int | None = None
    daily_capacity: int | None = Field(default=None, ge=0, description="Cards a day the printers print.")


@dataclass(frozen=True, slots=True)
class Backlog:
    """What the forecast learns from the request service: the cards queued and how many a day the printers print.
    ``queued`` is None (and ``note`` says why) when the request service did not tell."""

    queued: int | None
    daily_capacity: int | None = None
    note: str | None = None


class RequestServiceClient:
    """Typed client of the request service, made in the app's lifespan and closed with it."""

    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._timeout = settings.peer_timeout_seconds
        self._http = service_client(
            settings.request_url,
            token=settings.peer_token(),
            timeout=httpx.Timeout(settings.peer_timeout_seconds, connect=min(2.0, settings.peer_timeout_seconds)),
            transport=transport,
        )

    async def queue_stats(self) -> QueueStats:
        """The backlog; raises ``PeerUnavailable``/``httpx.HTTPError`` when it cannot be had, ``ValueError`` on a
        refusal (4xx) or a body that is not the contract's."""
        response = await retrying(
            lambda: self._http.get("/v1/queue/stats"),
            attempts=2,
            max_seconds=self._timeout,
            initial_wait=0.05,
            max_wait=0.5,
        )
        if response.status_code != 200:
            raise ValueError(f"the request service answered {response.status_code}")
        try:
            return QueueStats.model_validate(response.json())
        except (ValidationError, ValueError) as exc:
            raise ValueError(f"the request service's queue stats are not readable: {exc}") from None

    async def backlog(self) -> Backlog:
        """The queue's backlog and the printers' capacity, or an unknown backlog with the reason when the request
        service does not tell: the forecast degrades to the consumption rate alone."""
        try:
            stats = await self.queue_stats()
        except (httpx.HTTPError, PeerUnavailable, ValueError) as exc:
            return Backlog(queued=None, note=f"backlog unknown: {exc}")
        return Backlog(queued=stats.queued, daily_capacity=stats.daily_capacity)

    async def aclose(self) -> None:
        await self._http.aclose()
