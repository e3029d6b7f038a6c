"""Queries of the queue: lanes, the claim's next request, jobs, leases, counts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import BigInteger, and_, bindparam, case, func, literal_column, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.models import UTCDateTime
from services.request.models import PrintRequest, QueueCapacity, QueueJob, QueueLane
from services.request.print_requests.states import RequestStatus
from services.request.queue.policy import WAITING_STATUSES

# Literal constants, not bound parameters: a partial index is used only when the query repeats its predicate.
QUEUED = PrintRequest.status == literal_column("'queued'")
PRINTING = PrintRequest.status == literal_column("'printing'")

__all__ = [
    "claim_next",
    "claim_next_in_one_statement",
    "count_ahead",
    "count_by_status",
    "ensure_lane",
    "expired_leases",
    "get_capacity",
    "get_job",
    "overdue_by_kecamatan",
    "printed_since",
    "take_keys",
]


# Built once with bind parameters, so SQLAlchemy compiles it once (a lane takes keys on every submission).
_TAKE_KEYS = (
    update(QueueLane)
    .where(
        QueueLane.priority == bindparam("lane_priority"),
        QueueLane.source == bindparam("lane_source"),
        QueueLane.kecamatan_code == bindparam("lane_kecamatan"),
    )
    .values(
        last_key=case(
            (
                QueueLane.last_key + bindparam("spacing", type_=BigInteger) > bindparam("base", type_=BigInteger),
                QueueLane.last_key + bindparam("spacing_and_span", type_=BigInteger),
            ),
            else_=bindparam("base_and_span", type_=BigInteger),
        )
    )
    .returning(QueueLane.last_key)
)


async def take_keys(
    session: AsyncSession, *, priority: str, source: str, kecamatan_code: str, count: int, base: int, spacing: int
) -> int:
    """Reserve ``count`` keys in the lane, ``spacing`` apart and none below ``base``; return the first.

    One UPDATE … RETURNING: concurrent submissions of one kecamatan serialise on the lane row only.
    """
    span = spacing * (count - 1)
    params = {
        "lane_priority": priority,
        "lane_source": source,
        "lane_kecamatan": kecamatan_code,
        "spacing": spacing,
        "base": base,
        "spacing_and_span": spacing + span,
        "base_and_span": base + span,
    }
    # Core execution on the session's connection: no ORM bookkeeping for a one-row counter.
    connection = await session.connection()
    last = (await connection.execute(_TAKE_KEYS, params)).scalar()
    if last is None:
        await ensure_lane(connection, priority=priority, source=source, kecamatan_code=kecamatan_code, key=base + span)
        last = (await connection.execute(_TAKE_KEYS, params)).scalar()
        if last is None:  # pragma: no cover - the row was just inserted
            raise RuntimeError("queue lane missing")
    return int(last) - span


async def ensure_lane(
    connection: AsyncConnection, *, priority: str, source: str, kecamatan_code: str, key: int
) -> None:
    """Make the (class, source, kecamatan) lane with ``key`` as its last key, unless it exists."""
    insert = pg_insert if connection.dialect.name == "postgresql" else sqlite_insert
    await connection.execute(
        insert(QueueLane)
        .values(priority=priority, source=source, kecamatan_code=kecamatan_code, last_key=key)
        .on_conflict_do_nothing()
    )


async def claim_next(session: AsyncSession, **values: object) -> PrintRequest | None:
    """Lease the queued request with the smallest key in one UPDATE … RETURNING; None when nothing is queued.

    The subquery locks its row and skips rows other claimers hold (PostgreSQL ``FOR UPDATE SKIP LOCKED``);
    on SQLite the write transaction already holds the database's one write lock (``BEGIN IMMEDIATE``).
    """
    head = (
        select(PrintRequest.id)
        .where(QUEUED)
        .order_by(PrintRequest.queue_key, PrintRequest.id)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    statement = (
        update(PrintRequest)
        .where(PrintRequest.id == head)
        .values(**values)
        .returning(PrintRequest)
        .execution_options(synchronize_session=False)
    )
    claimed: PrintRequest | None = (await session.scalars(statement)).first()
    return claimed


# What a claim's answer needs of the request (not the whole row); data_key_id opens the sealed images.
CLAIM_COLUMNS = (
    "id", "priority", "reason", "attempts", "nik", "name", "birth_place", "birth_date", "sex", "blood_type",
    "address", "rt", "rw", "village_code", "kecamatan_code", "religion", "marital_status", "occupation",
    "citizenship", "valid_until", "photo", "signature", "data_key_id",
)  # fmt: skip

# PostgreSQL: the whole claim in one round trip — lease the head of the queue, record the job, the audit row and
# the access row (the claim carries the resident's card: services.request.privacy.access).
# A job id that already exists claims nothing (its first claim is answered instead), without a look-up first:
# the NOT EXISTS is a one-time filter on the job's primary key, evaluated before the queue's index is read.
_CLAIM_PG = text(
    f"""
WITH head AS (
    SELECT id FROM print_requests
    WHERE status = 'queued' AND NOT EXISTS (SELECT 1 FROM queue_jobs WHERE job_id = CAST(:job_id AS text))
    ORDER BY queue_key, id LIMIT 1 FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE print_requests AS p
    SET status = 'printing', job_id = CAST(:job_id AS text), printer_id = CAST(:printer_id AS text),
        lease_expires_at = CAST(:expires AS timestamptz), status_note = NULL, updated_at = CAST(:now AS timestamptz)
    FROM head WHERE p.id = head.id
    RETURNING {", ".join("p." + c for c in CLAIM_COLUMNS)}, p.card_serial
), job AS (
    INSERT INTO queue_jobs (job_id, request_id, printer_id, state, claimed_at, lease_expires_at)
    SELECT CAST(:job_id AS text), id, CAST(:printer_id AS text), 'leased',
           CAST(:now AS timestamptz), CAST(:expires AS timestamptz)
    FROM claimed
), audit AS (
    INSERT INTO audit_events (at, actor, actor_role, action, object_type, object_id, before, after)
    SELECT CAST(:now AS timestamptz), CAST(:actor AS text), CAST(:actor_role AS text), 'queue.claimed',
           'print_request', id,
           json_build_object('status', 'queued', 'attempts', attempts),
           json_build_object('status', 'printing', 'attempts', attempts, 'job_id', CAST(:job_id AS text),
                             'card_serial', card_serial)
    FROM claimed
), access AS (
    INSERT INTO access_events (at, actor, actor_role, action, request_id, nik, purpose)
    SELECT CAST(:now AS timestamptz), CAST(:actor AS text), CAST(:actor_role AS text), 'claim', id, nik,
           CAST(:purpose AS text)
    FROM claimed
)
SELECT {", ".join(CLAIM_COLUMNS)} FROM claimed
"""  # noqa: S608 - our own column names and types, no input
).bindparams(bindparam("now", type_=UTCDateTime()), bindparam("expires", type_=UTCDateTime()))


async def claim_next_in_one_statement(
    session: AsyncSession,
    *,
    job_id: str,
    printer_id: str,
    expires: dt.datetime,
    now: dt.datetime,
    actor: str,
    actor_role: str,
    purpose: str,
) -> RowMapping | None:
    """PostgreSQL only: ``claim_next`` plus the job row, the ``queue.claimed`` audit row and the ``claim`` access
    row, in one statement.

    The claimed request's ``CLAIM_COLUMNS`` as a row mapping; None when nothing is queued or ``job_id`` exists.
    """
    params = {
        "job_id": job_id,
        "printer_id": printer_id,
        "expires": expires,
        "now": now,
        "actor": actor,
        "actor_role": actor_role,
        "purpose": purpose,
    }
    connection = await session.connection()
    return (await connection.execute(_CLAIM_PG, params)).mappings().first()


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


async def overdue_by_kecamatan(session: AsyncSession, before: dict[str, dt.datetime]) -> dict[str, int]:
    """``{kecamatan_code: count}`` of requests queued or printing submitted before their reason's time in
    ``before`` (``policy.overdue_before``); kecamatan with none are left out."""
    if not before:
        return {}
    late = or_(*(and_(PrintRequest.reason == reason, PrintRequest.created_at < at) for reason, at in before.items()))
    query = (
        select(PrintRequest.kecamatan_code, func.count())
        .where(PrintRequest.status.in_(WAITING_STATUSES), late)
        .group_by(PrintRequest.kecamatan_code)
    )
    return {code: int(n) for code, n in (await session.execute(query)).all()}


async def printed_since(session: AsyncSession, since: dt.datetime) -> int:
    query = select(func.count()).where(PrintRequest.printed_at >= since)
    return int(await session.scalar(query) or 0)


async def get_capacity(session: AsyncSession) -> QueueCapacity | None:
    capacity: QueueCapacity | None = await session.get(QueueCapacity, 1)
    return capacity
