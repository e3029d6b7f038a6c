"""Queries of the queue: lanes, the claim's next request, jobs, leases, counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import and_, case, func, literal_column, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.request.models import PrintRequest, QueueCapacity, QueueJob, QueueLane
from services.request.print_requests.states import RequestStatus

# Literal constants, not bound parameters: a partial index is used only when the query repeats its predicate.
QUEUED = PrintRequest.status == literal_column("'queued'")
PRINTING = PrintRequest.status == literal_column("'printing'")

__all__ = [
    "count_ahead",
    "count_by_status",
    "expired_leases",
    "get_capacity",
    "get_job",
    "next_queued_for_update",
    "printed_since",
    "take_keys",
]


async def take_keys(
    session: AsyncSession, *, priority: str, kecamatan_code: str, count: int, base: int, spacing: int
) -> int:
    """Reserve ``count`` keys in the lane, ``spacing`` apart and none below ``base``; return the first.

    One UPDATE … RETURNING: concurrent submissions of one kecamatan serialise on the lane row only.
    """
    span = spacing * (count - 1)
    statement = (
        update(QueueLane)
        .where(QueueLane.priority == priority, QueueLane.kecamatan_code == kecamatan_code)
        .values(
            last_key=case(
                (QueueLane.last_key + spacing > base, QueueLane.last_key + spacing + span),
                else_=base + span,
            )
        )
        .returning(QueueLane.last_key)
    )
    # Core execution on the session's connection: no ORM bookkeeping for a one-row counter.
    connection = await session.connection()
    last = (await connection.execute(statement)).scalar()
    if last is None:
        insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
        await connection.execute(
            insert(QueueLane)
            .values(priority=priority, kecamatan_code=kecamatan_code, last_key=base + span)
            .on_conflict_do_nothing()
        )
        last = (await connection.execute(statement)).scalar()
        if last is None:  # pragma: no cover - the row was just inserted
            raise RuntimeError("queue lane missing")
    return int(last) - span


async def next_queued_for_update(session: AsyncSession) -> PrintRequest | None:
    """The queued request with the smallest key, locked; rows other claimers hold are skipped (PostgreSQL).

    On SQLite the write transaction already holds the database's one write lock (BEGIN IMMEDIATE).
    """
    query = (
        select(PrintRequest)
        .where(QUEUED)
        .order_by(PrintRequest.queue_key, PrintRequest.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    )
    result: PrintRequest | None = await session.scalar(query)
    return result


async def get_job(session: AsyncSession, job_id: str, *, for_update: bool = False) -> QueueJob | None:
    query = select(QueueJob).where(QueueJob.job_id == job_id)
    if for_update:
        query = query.with_for_update()
    job: QueueJob | None = await session.scalar(query)
    return job


async def expired_leases(session: AsyncSession, now: dt.datetime, *, limit: int = 500) -> Sequence[PrintRequest]:
    query = (
        select(PrintRequest)
        .where(PRINTING, PrintRequest.lease_expires_at < now)
        .order_by(PrintRequest.lease_expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.scalars(query)).all()


async def count_ahead(session: AsyncSession, request: PrintRequest) -> int:
    """Queued requests a claim would take before this one."""
    query = select(func.count()).where(
        QUEUED,
        or_(
            PrintRequest.queue_key < request.queue_key,
            and_(PrintRequest.queue_key == request.queue_key, PrintRequest.id < request.id),
        ),
    )
    return int(await session.scalar(query) or 0)


async def count_by_status(session: AsyncSession) -> dict[tuple[str, str], int]:
    """``{(status, priority): count}`` for the statuses the queue reports."""
    wanted = [
        RequestStatus.QUEUED.value,
        RequestStatus.PRINTING.value,
        RequestStatus.NEEDS_REVIEW.value,
    ]
    query = (
        select(PrintRequest.status, PrintRequest.priority, func.count())
        .where(PrintRequest.status.in_(wanted))
        .group_by(PrintRequest.status, PrintRequest.priority)
    )
    return {(status, priority): int(n) for status, priority, n in (await session.execute(query)).all()}


async def printed_since(session: AsyncSession, since: dt.datetime) -> int:
    query = select(func.count()).where(PrintRequest.printed_at >= since)
    return int(await session.scalar(query) or 0)


async def get_capacity(session: AsyncSession) -> QueueCapacity | None:
    capacity: QueueCapacity | None = await session.get(QueueCapacity, 1)
    return capacity
