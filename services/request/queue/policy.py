"""The priority policy as one sortable number, ``queue_key``, given to a request when it is queued.

Claims take the queued request with the smallest ``(queue_key, id)``, which one partial index serves however
long the queue is. The key is a time in milliseconds (see docs/architecture.md, "Request queue policy"):

- base: the time the request was queued; an urgent request's base is ``urgent_head_start_hours`` earlier, so
  urgent work goes first, yet a regular request that has waited longer than the head start is not passed by
  new urgent ones (ageing: nothing waits forever).
- fairness: each (class, kecamatan) lane hands out keys at least ``fair_spacing_seconds`` apart. A batch of
  41,000 rows from one kecamatan is spread over the future; a request from another kecamatan, queued later,
  sorts in near the head instead of behind the whole batch. Lanes with no backlog get the current time.

A request that goes back to the queue (failed attempt, released or expired lease, resolved not printed) keeps
its key, so it keeps its place.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from services.request.config import Settings

__all__ = ["QueuePolicy"]


@dataclass(frozen=True, slots=True)
class QueuePolicy:
    urgent_head_start_ms: int
    spacing_ms: int

    @classmethod
    def from_settings(cls, settings: Settings) -> QueuePolicy:
        return cls(
            urgent_head_start_ms=round(settings.urgent_head_start_hours * 3_600_000),
            spacing_ms=round(settings.fair_spacing_seconds * 1000),
        )

    def base_key(self, *, urgent: bool, now: dt.datetime) -> int:
        key = round(now.timestamp() * 1000)
        return key - self.urgent_head_start_ms if urgent else key
