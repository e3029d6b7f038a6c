"""Queries of reservations: the gateway's calls as a few prebuilt Core statements (see service.py for why),
and the reads of the API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.pagination import paginate
from services.inventory.ledger import repository as ledger
from services.inventory.models import AuditEvent, Blank, Movement, Reservation, StockLock
from services.inventory.states import BlankState, ReservationStatus

__all__ = [
    "HOLD",
    "RELEASE",
    "USE",
    "USE_RECORDED",
    "get",
    "get_row",
    "insert_reservation",
    "list_reservations",
    "lock_overdue",
    "lock_stock_and_peek",
    "take_blank_and_open",
    "write_expired",
]


RESERVATIONS = cast(Table, Reservation.__table__)
BLANKS = cast(Table, Blank.__table__)
MOVEMENTS = cast(Table, Movement.__table__)
AUDIT = cast(Table, AuditEvent.__table__)
STOCK = cast(Table, StockLock.__table__)
OVERDUE_BATCH = 500

Row = dict[str, Any]  # a reservation's columns

# Statements built once, executed with dicts of values (no per-call statement building or compiling).
_R = RESERVATIONS.c
_GET = select(RESERVATIONS).where(_R.job_id == bindparam("job_id"))
_GET_FOR_UPDATE = _GET.with_for_update()
_OVERDUE = select(_R.job_id).where(_R.status == ReservationStatus.RESERVED.value, _R.expires_at < bindparam("now"))
_PEEK = select(
    STOCK.c.unused,
    STOCK.c.reserved,
    _OVERDUE.exists(),
    select(_R.job_id).where(_R.job_id == bindparam("p_job_id")).exists(),
).where(STOCK.c.id == ledger.STOCK_ROW)
_PEEK_FOR_UPDATE = _PEEK.with_for_update(of=STOCK)
_INSERT_RESERVATION = insert(RESERVATIONS).values(ledger.bind_all(RESERVATIONS, "r_"))
# Writes back a reservation's changing columns (``u_`` + column).
_WRITE_BACK = (
    update(RESERVATIONS)
    .where(_R.job_id == bindparam("u_job_id"))
    .values(ledger.bind_all(RESERVATIONS, "u_", skip=("job_id", "urgent", "reserved_by", "created_at")))
)
_INSERT_MOVEMENT = insert(MOVEMENTS).values(ledger.bind_all(MOVEMENTS, "m_", skip=("id",)))
_INSERT_AUDIT_1 = insert(AUDIT).values(ledger.bind_all(AUDIT, "a1_", skip=("id",)))
_INSERT_AUDIT_2 = insert(AUDIT).values(ledger.bind_all(AUDIT, "a2_", skip=("id",)))
# The common case of consume/spoil: an available blank no job has touched becomes the card (or waste).
_TAKE_BLANK = (
    update(BLANKS)
    .where(
        BLANKS.c.serial == bindparam("b_serial"),
        BLANKS.c.state == BlankState.AVAILABLE.value,
        BLANKS.c.job_id.is_(None),
    )
    .values(
        state=bindparam("b_state"),
        job_id=bindparam("b_job_id"),
        request_id=func.coalesce(bindparam("b_request_id", type_=BLANKS.c.request_id.type), BLANKS.c.request_id),
        updated_at=bindparam("b_updated_at"),
    )
    .returning(BLANKS.c.tranche_id)
)
# consume/spoil's first statement: take the blank if it is the common case, lock the reservation, and read the
# reorder check's figures — one round trip on PostgreSQL (the blank's UPDATE as a CTE: it runs whatever the
# rest finds, and any refusal after it rolls the whole transaction back). SQLite runs the UPDATE on its own.
_TAKEN = _TAKE_BLANK.cte("taken")
_OPEN_FOR_USE = {
    "postgresql": select(
        RESERVATIONS, select(_TAKEN.c.tranche_id).scalar_subquery().label("taken_tranche"), *ledger.REORDER_COLUMNS
    )
    .where(_R.job_id == bindparam("o_job_id"))
    .with_for_update(of=RESERVATIONS),
    "sqlite": select(RESERVATIONS, *ledger.REORDER_COLUMNS).where(_R.job_id == bindparam("o_job_id")),
}
RESERVE = ledger.Batch(_INSERT_RESERVATION, _INSERT_MOVEMENT, _INSERT_AUDIT_1, ledger.BUMP)


def _reserve_if_new() -> Any:
    """PostgreSQL's grant in one statement: the reservation unless the job has one (``ON CONFLICT DO NOTHING``),
    and only if it was inserted, its movement, its audit row and one more reserved on the stock row; returns
    the balances and how many were inserted (0: the job reserved meanwhile — the lock's wait can hide a
    commit from the peek's snapshot, never from the unique key)."""
    inserted = (
        pg_insert(RESERVATIONS)
        .values(ledger.bind_all(RESERVATIONS, "r_"))
        .on_conflict_do_nothing(index_elements=[_R.job_id])
        .returning(_R.job_id)
        .cte("inserted")
    )

    def copy(table: Table, prefix: str) -> Any:
        columns = [c for c in table.c if c.name != "id"]
        values = select(*[bindparam(prefix + c.name, type_=c.type) for c in columns]).select_from(inserted)
        return insert(table).from_select([c.name for c in columns], values).cte(f"{prefix}copy")

    count = select(func.count()).select_from(inserted).scalar_subquery()
    return (
        update(STOCK)
        .where(STOCK.c.id == ledger.STOCK_ROW)
        .values(reserved=STOCK.c.reserved + count)
        .returning(STOCK.c.unused, STOCK.c.reserved, count)
        .add_cte(inserted)
        .add_cte(copy(MOVEMENTS, "m_"))
        .add_cte(copy(AUDIT, "a1_"))
    )


RESERVE_IF_NEW = _reserve_if_new()
# The reservation, the blank's movement and both audit rows, the day's usage and (the main statement, run first
# on PostgreSQL) the stock row: the only statement of consume/spoil that touches a row every job shares.
USE = {
    name: ledger.Batch(_WRITE_BACK, _INSERT_MOVEMENT, _INSERT_AUDIT_1, _INSERT_AUDIT_2, upsert, ledger.BUMP)
    for name, upsert in ledger.USAGE_UPSERT.items()
}
USE_RECORDED = ledger.Batch(_WRITE_BACK, _INSERT_AUDIT_1, ledger.BUMP)  # the ledger wrote the blank's part
RELEASE = ledger.Batch(_WRITE_BACK, _INSERT_MOVEMENT, _INSERT_AUDIT_1, ledger.BUMP)
HOLD = ledger.Batch(_WRITE_BACK, _INSERT_AUDIT_1)


async def get_row(session: AsyncSession, job_id: str, *, for_update: bool = False) -> Row | None:
    """A reservation's columns as a dict (the rules change it in place and write it back), or None."""
    connection = await session.connection()
    row = (await connection.execute(_GET_FOR_UPDATE if for_update else _GET, {"job_id": job_id})).first()
    return row._asdict() if row is not None else None


async def lock_stock_and_peek(
    session: AsyncSession, now: dt.datetime, job_id: str
) -> tuple[ledger.StockCounters, bool, bool]:
    """Lock the stock row; its balances, whether any reservation is overdue and whether the job has one, in one
    round trip."""
    query = _PEEK_FOR_UPDATE if ledger.is_postgres(session) else _PEEK
    row = (await (await session.connection()).execute(query, {"now": now, "p_job_id": job_id})).one()
    return ledger.StockCounters(row[0], row[1]), bool(row[2]), bool(row[3])


async def get(session: AsyncSession, job_id: str, *, for_update: bool = False) -> Reservation | None:
    query = select(Reservation).where(Reservation.job_id == job_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def list_reservations(
    session: AsyncSession, status: ReservationStatus | None, *, limit: int, offset: int
) -> tuple[Sequence[Reservation], int]:
    query = select(Reservation)
    if status is not None:
        query = query.where(Reservation.status == status.value)
    return await paginate(session, query, Reservation.created_at.desc(), limit=limit, offset=offset)


async def insert_reservation(session: AsyncSession, values: Row) -> bool:
    """Write a new reservation with its movement, audit row and counters; False if the job has one already."""
    if ledger.is_postgres(session):
        row = (await (await session.connection()).execute(RESERVE_IF_NEW, values)).one()
        return bool(row[2])
    await RESERVE.run(session, values)  # one writer at a time: the peek saw everything
    return True


async def take_blank_and_open(session: AsyncSession, values: Row) -> tuple[Row | None, str | None]:
    """consume/spoil's first look: take the blank if no job touched it (its tranche, else None) and lock the
    reservation with the reorder check's figures (None if there is no reservation)."""
    connection = await session.connection()
    if ledger.is_postgres(session):
        found = (await connection.execute(_OPEN_FOR_USE["postgresql"], values)).first()
        r = found._asdict() if found is not None else None
        return r, (r.pop("taken_tranche") if r is not None else None)
    tranche_id = (await connection.execute(_TAKE_BLANK, values)).scalar()
    found = (await connection.execute(_OPEN_FOR_USE["sqlite"], values)).first()
    return (found._asdict() if found is not None else None), tranche_id


async def lock_overdue(session: AsyncSession, now: dt.datetime) -> list[Row]:
    """Up to ``OVERDUE_BATCH`` reservations past their time-to-live, locked (those another transaction holds are
    skipped: a job consuming one wins)."""
    connection = await session.connection()
    query = (
        select(RESERVATIONS)
        .where(RESERVATIONS.c.status == ReservationStatus.RESERVED.value, RESERVATIONS.c.expires_at < now)
        .order_by(RESERVATIONS.c.expires_at)
        .limit(OVERDUE_BATCH)
        .with_for_update(skip_locked=True)
    )
    return [row._asdict() for row in await connection.execute(query)]


async def write_expired(
    session: AsyncSession, jobs: list[str], now: dt.datetime, movements: list[Row], audits: list[Row]
) -> None:
    """Mark ``jobs``' reservations expired, with their movements and audit rows, and give their blanks back."""
    connection = await session.connection()
    await connection.execute(
        update(RESERVATIONS)
        .where(RESERVATIONS.c.job_id.in_(jobs))
        .values(status=ReservationStatus.EXPIRED.value, updated_at=now)
    )
    await connection.execute(insert(Movement), movements)
    await connection.execute(insert(AuditEvent), audits)
    await connection.execute(ledger.bump_counters(reserved=-len(jobs)))
