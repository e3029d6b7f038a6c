"""The priority policy as one sortable number, ``queue_key``, given to a request when it is queued.

Claims take the queued request with the smallest ``(queue_key, id)``, which one partial index serves however
long the queue is. The key is a time in milliseconds (see docs/architecture.md, "Request queue policy"):

- base: the time the request was queued; an urgent request's base is ``urgent_head_start_hours`` earlier, so
  urgent work goes first, yet a regular request that has waited longer than the head start is not passed by
  new urgent ones (ageing: nothing waits forever).
- fairness: each (class, source, kecamatan) lane hands out keys at least ``fair_spacing_seconds`` apart. The
  source is ``batch`` for a kecamatan's proposals (rows of a batch upload, or channel ``kecamatan_batch``) and
  ``direct`` for requests submitted one by one (walk-ins, partners, mobile units). A batch of 41,000 rows from
  one kecamatan is spread over the future in its batch lane; a request queued later, from another kecamatan or
  a walk-in at the same kecamatan's desk, sorts in near the head instead of behind the whole batch. Lanes with
  no backlog get the current time; backlogged lanes interleave round-robin.

A request that goes back to the queue (failed attempt, released or expired lease, resolved not printed) keeps
its key, so it keeps its place.

Targets: each urgent reason has a target in hours from submission to printed card (``target_hours_*``: health
and disaster 24 h, travel 48 h, education, legal and other 72 h by default). A request still queued or printing
after its target is overdue: flagged on the request, counted in the queue's stats and on the coverage page.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from services.request.config import Settings
from services.request.print_requests.schemas import Channel, Reason
from services.request.print_requests.states import RequestStatus

__all__ = [
    "BATCH_SOURCE",
    "DIRECT_SOURCE",
    "WAITING_STATUSES",
    "QueuePolicy",
    "due_at",
    "is_overdue",
    "lane_source",
    "overdue_before",
    "target_hours",
]

# Where a request can miss its target: its card has not come out yet.
WAITING_STATUSES = (RequestStatus.QUEUED.value, RequestStatus.PRINTING.value)

BATCH_SOURCE = "batch"
DIRECT_SOURCE = "direct"


def lane_source(channel: str, batch_id: str | None) -> str:
    """The lane a request queues in beside its class and kecamatan: a kecamatan's proposals, or the desk's."""
    if batch_id is not None or channel == Channel.KECAMATAN_BATCH.value:
        return BATCH_SOURCE
    return DIRECT_SOURCE


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


def target_hours(settings: Settings) -> dict[str, float]:
    """Hours from submission to printed card that each urgent reason may take (regular reasons have none)."""
    return {
        Reason.HEALTH.value: settings.target_hours_health,
        Reason.DISASTER.value: settings.target_hours_disaster,
        Reason.TRAVEL.value: settings.target_hours_travel,
        Reason.EDUCATION.value: settings.target_hours_education,
        Reason.LEGAL.value: settings.target_hours_legal,
        Reason.OTHER.value: settings.target_hours_other,
    }


def due_at(settings: Settings, *, reason: str, created_at: dt.datetime) -> dt.datetime | None:
    """When a request for ``reason`` submitted at ``created_at`` should be printed; None without a target."""
    hours = target_hours(settings).get(reason)
    return None if hours is None else created_at + dt.timedelta(hours=hours)


def is_overdue(settings: Settings, *, reason: str, status: str, created_at: dt.datetime, now: dt.datetime) -> bool:
    """Still waiting for its card (queued or printing) after its reason's target."""
    due = due_at(settings, reason=reason, created_at=created_at)
    return due is not None and status in WAITING_STATUSES and now > due


def overdue_before(settings: Settings, now: dt.datetime) -> dict[str, dt.datetime]:
    """Per urgent reason, the submission time before which a request still waiting is overdue ``now``."""
    return {reason: now - dt.timedelta(hours=hours) for reason, hours in target_hours(settings).items()}
