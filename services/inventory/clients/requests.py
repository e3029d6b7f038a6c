"""The one call the inventory makes to the request service: the queue's backlog (``GET /v1/queue/stats``)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from pydantic import BaseModel, Field, ValidationError

from services.common.peers import PeerClient, PeerError, PeerReplyInvalid
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


class RequestServiceClient(PeerClient):
    """Typed client of the request service, made in the app's lifespan and closed with it."""

    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        # A forecast is read by a person waiting for the page: two tries, then it says the backlog is unknown.
        http, policy = self.for_a_person(
            settings.request_url,
            token=settings.peer_token(),
            timeout=settings.peer_timeout_seconds,
            attempts=2,
            transport=transport,
        )
        super().__init__(http, policy=policy)

    async def queue_stats(self) -> QueueStats:
        """The backlog; ``PeerUnavailable`` when it cannot be had, ``PeerAnswer`` on a refusal (4xx),
        ``PeerReplyInvalid`` for a body that is not the contract's."""
        response = await self.call("GET", "/v1/queue/stats")
        try:
            return QueueStats.model_validate(response.json())
        except (ValidationError, ValueError) as exc:
            raise PeerReplyInvalid(f"the request service's queue stats are not readable: {exc}") from None

    async def backlog(self) -> Backlog:
        """The queue's backlog and the printers' capacity, or an unknown backlog with the reason when the request
        service does not tell: the forecast degrades to the consumption rate alone."""
        try:
            stats = await self.queue_stats()
        except PeerError as exc:
            return Backlog(queued=None, note=f"backlog unknown: {exc}")
        return Backlog(queued=stats.queued, daily_capacity=stats.daily_capacity)
