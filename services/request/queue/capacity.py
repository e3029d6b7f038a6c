"""The queue's figures: what is queued and printing (``GET /v1/queue/stats``), and the printers' capacity that
the gateway publishes (``PUT /v1/queue/capacity``), which feeds the estimated print dates."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.request.context import ServiceContext
from services.request.models import PrintRequest, QueueCapacity
from services.request.print_requests.schemas import QueueView
from services.request.print_requests.states import RequestStatus
from services.request.queue import repository
from services.request.queue.policy import overdue_before
from services.request.queue.schemas import CapacityIn, CapacityOut, QueueStats
from services.request.sukets import repository as sukets

__all__ = ["cards_per_hour", "daily_capacity", "queue_view", "set_capacity", "stats"]


async def cards_per_hour(session: AsyncSession, context: ServiceContext) -> float:
    """The whole fleet's cards an hour: the last ``PUT /v1/queue/capacity`` (already the fleet's total: never
    multiplied by its ``printers``), else the configured ``daily_capacity`` spread over the office hours. At
    least one card a working day, so that a stopped fleet gives far dates rather than none."""
    hours = context.calendar.hours_per_day
    row = await repository.get_capacity(session)
    rate = context.settings.daily_capacity / hours if row is None else row.cards_per_hour
    return max(rate, 1 / hours)


async def daily_capacity(session: AsyncSession, context: ServiceContext) -> int:
    """Cards a working day: the fleet's cards an hour × the office hours of a working day."""
    return max(1, round(await cards_per_hour(session, context) * context.calendar.hours_per_day))


async def queue_view(session: AsyncSession, context: ServiceContext, request: PrintRequest) -> QueueView | None:
    """Position and estimated print date: the cards ahead take ``ahead / cards an hour`` of office time from now
    (working days and office hours in WIB, public holidays skipped; ``services/common/office_hours.py``)."""
    if request.status != RequestStatus.QUEUED.value:
        return None
    ahead = await repository.count_ahead(session, request)
    rate = await cards_per_hour(session, context)
    return QueueView(
        position=ahead + 1,
        ahead=ahead,
        daily_capacity=max(1, round(rate * context.calendar.hours_per_day)),
        estimated_print_date=context.calendar.date_after(context.clock(), ahead / rate),
    )


async def stats(session: AsyncSession, context: ServiceContext) -> QueueStats:
    counts = await repository.count_by_status(session)
    urgent = counts.get((RequestStatus.QUEUED.value, "urgent"), 0)
    regular = counts.get((RequestStatus.QUEUED.value, "regular"), 0)
    midnight = dt.datetime.combine(context.today(), dt.time(), tzinfo=context.timezone).astimezone(dt.UTC)
    overdue = await repository.overdue_by_kecamatan(session, overdue_before(context.settings, context.clock()))
    return QueueStats(
        queued=urgent + regular,
        urgent_queued=urgent,
        regular_queued=regular,
        printing=sum(n for (s, _), n in counts.items() if s == RequestStatus.PRINTING.value),
        needs_review=sum(n for (s, _), n in counts.items() if s == RequestStatus.NEEDS_REVIEW.value),
        overdue=sum(overdue.values()),
        printed_today=await repository.printed_since(session, midnight),
        daily_capacity=await daily_capacity(session, context),
        waiting_claims=context.queue_signal.waiting,
        with_suket=await sukets.count_valid(session, context.today()),
    )


async def set_capacity(
    session: AsyncSession, context: ServiceContext, principal: Principal, body: CapacityIn
) -> CapacityOut:
    row = await repository.get_capacity(session)
    before = None if row is None else {"cards_per_hour": row.cards_per_hour, "printers": row.printers}
    if row is None:
        row = QueueCapacity(id=1, cards_per_hour=body.cards_per_hour, printers=body.printers, updated_by="")
        session.add(row)
    row.cards_per_hour, row.printers = body.cards_per_hour, body.printers
    row.updated_at, row.updated_by = context.clock(), principal.subject
    await session.flush()
    context.auditor.record(
        session, principal, "queue.capacity_set", "queue_capacity", "1",
        before=before, after={"cards_per_hour": row.cards_per_hour, "printers": row.printers},
    )  # fmt: skip
    return CapacityOut(
        cards_per_hour=row.cards_per_hour, printers=row.printers, daily_capacity=await daily_capacity(session, context)
    )
