"""The queue's figures: what is queued and printing (``GET /v1/queue/stats``), and the printers' capacity that
the gateway publishes (``PUT /v1/queue/capacity``), which feeds the estimated print dates."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.request.context import ServiceContext
from services.request.models import QueueCapacity
from services.request.print_requests.service import daily_capacity
from services.request.print_requests.states import RequestStatus
from services.request.queue import repository
from services.request.queue.policy import overdue_before
from services.request.queue.schemas import CapacityIn, CapacityOut, QueueStats

__all__ = ["set_capacity", "stats"]


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
