"""Queries of the ledger: blanks, movements, the stock lock and the counts balances are derived from."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Executable, Table, bindparam, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.pagination import paginate
from services.inventory.models import Blank, Movement, ReorderProposal, Reservation, StockLock, Tranche, UsageDay
from services.inventory.states import (
    OPEN_PROPOSAL_STATES,
    OPEN_RESERVATION_STATES,
    BlankState,
    MovementKind,
    ReservationStatus,
)

STOCK_ROW = 1

__all__ = [
    "BUMP",
    "REORDER_COLUMNS",
    "USAGE_UPSERT",
    "USE_BLANK",
    "Batch",
    "MovementFilters",
    "ReorderFigures",
    "StockCounters",
    "add_movement",
    "bind_all",
    "blank_counts",
    "bump_counters",
    "count_open_reservations",
    "count_reservations",
    "count_unused",
    "count_usage_days",
    "custody_movements",
    "execute_together",
    "get_blank",
    "is_postgres",
    "ledger_counts",
    "list_movements",
    "lock_stock",
    "read_counters",
    "reorder_check",
    "reorder_figures_from",
    "tranche_totals",
    "usage_since",
    "usage_upsert",
    "usage_window",
]


class StockCounters:
    """The running balances on the ``stock_lock`` row: ``unused`` blanks and ``reserved`` (open reservations)."""

    __slots__ = ("reserved", "unused")

    def __init__(self, unused: int, reserved: int) -> None:
        self.unused, self.reserved = int(unused), int(reserved)

    @property
    def available(self) -> int:
        return self.unused - self.reserved


def is_postgres(session: AsyncSession) -> bool:
    bind = session.bind
    return (bind.dialect.name if bind is not None else session.get_bind().dialect.name) == "postgresql"


class Batch:
    """Data-changing statements built once, with named bind parameters, run together with one dict of values.

    On PostgreSQL they travel as one statement (all but the last as data-modifying CTEs of the last): one round
    trip. They must not depend on each other's effects, and rows they change must be locked already, except the
    last statement's, so the order locks are taken in cannot matter. SQLite runs them one by one, in order (in
    process: no round trips). Each statement reads only its own parameters from the dict.
    """

    def __init__(self, *statements: Any) -> None:
        self.statements = statements
        *first, last = statements
        for n, statement in enumerate(first):
            last = last.add_cte(statement.cte(f"w{n}"))
        self.combined = last

    async def run(self, session: AsyncSession, values: dict[str, Any]) -> Any:
        """Execute; the first row the last statement returns (or None)."""
        connection = await session.connection()
        if is_postgres(session):
            result = await connection.execute(self.combined, values)
        else:
            for statement in self.statements[:-1]:
                await connection.execute(statement, values)
            result = await connection.execute(self.statements[-1], values)
        return result.first() if result.returns_rows else None


def bind_all(table: Any, prefix: str, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """``{column: bindparam(prefix + column)}`` for an INSERT or UPDATE built once."""
    return {c.name: bindparam(prefix + c.name) for c in table.c if c.name not in skip}


_STOCK = cast(Table, StockLock.__table__)

# The running balances move by ``d_unused`` / ``d_reserved``; the balances after the change come back.
BUMP = (
    update(_STOCK)
    .where(_STOCK.c.id == STOCK_ROW)
    .values(unused=_STOCK.c.unused + bindparam("d_unused"), reserved=_STOCK.c.reserved + bindparam("d_reserved"))
    .returning(_STOCK.c.unused, _STOCK.c.reserved)
)


async def lock_stock(session: AsyncSession) -> StockCounters:
    """Serialise changes that take blanks away: PostgreSQL locks the one ``stock_lock`` row until commit.

    SQLite needs no row lock: the write session began with ``BEGIN IMMEDIATE``, so this transaction is the only
    writer already. Returns the running balances as they are now (the lock makes them current).
    """
    query = select(StockLock.unused, StockLock.reserved).where(StockLock.id == STOCK_ROW)
    if is_postgres(session):
        query = query.with_for_update()
    row = (await session.execute(query)).one()
    return StockCounters(row[0], row[1])


async def read_counters(session: AsyncSession) -> StockCounters:
    """The running balances without locking (reports, the invariant)."""
    row = (await session.execute(select(StockLock.unused, StockLock.reserved).where(StockLock.id == STOCK_ROW))).one()
    return StockCounters(row[0], row[1])


def bump_counters(*, unused: int = 0, reserved: int = 0) -> Executable:
    """``UPDATE stock_lock`` by the given deltas, returning the balances after it."""
    return (
        update(StockLock)
        .where(StockLock.id == STOCK_ROW)
        .values(unused=StockLock.unused + unused, reserved=StockLock.reserved + reserved)
        .returning(StockLock.unused, StockLock.reserved)
    )


def _usage_upsert(insert: Any) -> Any:
    statement = insert(_USAGE).values(day=bindparam("g_day"), used=bindparam("g_used"))
    return statement.on_conflict_do_update(
        index_elements=[_USAGE.c.day], set_={"used": _USAGE.c.used + statement.excluded.used}
    )


_USAGE = cast(Table, UsageDay.__table__)
USAGE_UPSERT = {"postgresql": _usage_upsert(pg_insert), "sqlite": _usage_upsert(sqlite_insert)}


def usage_upsert(session: AsyncSession) -> Any:
    """The upsert adding ``g_used`` blanks to day ``g_day``, for this session's database."""
    return USAGE_UPSERT["postgresql" if is_postgres(session) else "sqlite"]


# One blank left the shelf as used (consumed or spoiled): the counters and the day's usage in one statement.
# On PostgreSQL the main statement (the stock row) runs before its CTEs, so the stock row is always locked
# before the day's usage row, whichever path uses a blank.
USE_BLANK = {name: Batch(upsert, BUMP) for name, upsert in USAGE_UPSERT.items()}


async def execute_together(session: AsyncSession, statements: Sequence[Executable]) -> Any:
    """Run data-changing statements in order and return the first row the last one returns (or None).

    On PostgreSQL they travel as one statement (the others as data-modifying CTEs of the last): one round trip.
    They must not depend on each other's effects, and rows they change must be locked already, except the last
    statement's: then the order locks are taken in cannot matter. SQLite runs them one by one (in process, no
    round trips).
    """
    if not statements:
        return None
    *first, last = statements
    if first and is_postgres(session):
        for n, statement in enumerate(first):
            last = last.add_cte(statement.cte(f"w{n}"))  # type: ignore[attr-defined]
        first = []
    connection = await session.connection()
    for statement in first:
        await connection.execute(statement)
    result = await connection.execute(last)
    return result.first() if result.returns_rows else None


_USED_KINDS = (MovementKind.CONSUMED.value, MovementKind.SPOILED.value)
# Blanks used on the whole days from ``next_day`` on (the counters), and from ``since`` to ``next_day`` (the
# movements of that one partial day): exact, and at most one day of movements is read.
_USED_DAYS = select(func.coalesce(func.sum(UsageDay.used), 0)).where(UsageDay.day >= bindparam("next_date"))
_USED_PARTIAL = select(func.coalesce(func.sum(Movement.quantity), 0)).where(
    Movement.kind.in_(_USED_KINDS), Movement.at >= bindparam("since"), Movement.at < bindparam("next_day")
)
_USED_SINCE = select(_USED_DAYS.scalar_subquery(), _USED_PARTIAL.scalar_subquery())
# The reorder check's figures as labelled columns, so that a caller's own query may carry them along.
REORDER_COLUMNS = (
    select(ReorderProposal.id)
    .where(ReorderProposal.state.in_([s.value for s in OPEN_PROPOSAL_STATES]))
    .exists()
    .label("ro_open"),
    _USED_DAYS.scalar_subquery().label("ro_days"),
    _USED_PARTIAL.scalar_subquery().label("ro_partial"),
    select(StockLock.unused).where(StockLock.id == STOCK_ROW).scalar_subquery().label("ro_unused"),
    select(StockLock.reserved).where(StockLock.id == STOCK_ROW).scalar_subquery().label("ro_reserved"),
)
_REORDER_CHECK = select(*REORDER_COLUMNS)

ReorderFigures = tuple[bool, int, StockCounters]  # a proposal is open, blanks used in the window, balances


def reorder_figures_from(values: dict[str, Any]) -> ReorderFigures:
    """The figures of ``REORDER_COLUMNS`` taken out of a row's values (``ro_`` keys are removed)."""
    is_open, days, partial = values.pop("ro_open"), values.pop("ro_days"), values.pop("ro_partial")
    counters = StockCounters(values.pop("ro_unused"), values.pop("ro_reserved"))
    return bool(is_open), int(days or 0) + int(partial or 0), counters


def usage_window(since: dt.datetime) -> dict[str, Any]:
    """The parameters of ``REORDER_COLUMNS`` for a window starting at ``since``."""
    next_date = since.astimezone(dt.UTC).date() + dt.timedelta(days=1)
    next_day = dt.datetime.combine(next_date, dt.time(), tzinfo=dt.UTC)
    return {"since": since, "next_day": next_day, "next_date": next_date}


async def reorder_check(session: AsyncSession, since: dt.datetime) -> ReorderFigures:
    """``(a proposal is open, blanks used since, the balances)`` in one round trip and without locking, for the
    check after each used blank."""
    row = (await (await session.connection()).execute(_REORDER_CHECK, usage_window(since))).one()
    return reorder_figures_from(row._asdict())


async def count_usage_days(session: AsyncSession, since: dt.datetime | None) -> int:
    """Blanks used up since ``since`` (``None``: ever): whole days from the ``usage_days`` counters, the first
    (partial) day from the movements themselves — exact, and it reads at most one day of movements."""
    if since is None:
        return int(await session.scalar(select(func.coalesce(func.sum(UsageDay.used), 0))) or 0)
    row = (await session.execute(_USED_SINCE, usage_window(since))).one()
    return int(row[0] or 0) + int(row[1] or 0)


async def get_blank(session: AsyncSession, serial: str, *, for_update: bool = False) -> Blank | None:
    query = select(Blank).where(Blank.serial == serial)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


def add_movement(session: AsyncSession, *, kind: MovementKind, actor: str, **fields: Any) -> Movement:
    movement = Movement(kind=kind.value, actor=actor, **fields)
    session.add(movement)
    return movement


async def count_unused(session: AsyncSession) -> int:
    """Blanks not yet consumed, spoiled or written off (some of them may be counted as reserved)."""
    return await session.scalar(select(func.count()).where(Blank.state == BlankState.AVAILABLE.value)) or 0


async def count_open_reservations(session: AsyncSession) -> int:
    states = [s.value for s in OPEN_RESERVATION_STATES]
    return await session.scalar(select(func.count()).where(Reservation.status.in_(states))) or 0


async def count_reservations(session: AsyncSession, status: ReservationStatus) -> int:
    return await session.scalar(select(func.count()).where(Reservation.status == status.value)) or 0


async def tranche_totals(session: AsyncSession) -> Sequence[tuple[str, str, int]]:
    """``(id, reference, count)`` of every tranche, oldest first."""
    rows = await session.execute(
        select(Tranche.id, Tranche.reference, Tranche.count).order_by(Tranche.created_at, Tranche.reference)
    )
    return [(r[0], r[1], r[2]) for r in rows]


async def blank_counts(session: AsyncSession) -> dict[tuple[str, str], int]:
    """``{(tranche id, state): blanks}`` from the blanks' current states."""
    rows = await session.execute(
        select(Blank.tranche_id, Blank.state, func.count()).group_by(Blank.tranche_id, Blank.state)
    )
    return {(r[0], r[1]): r[2] for r in rows}


async def ledger_counts(session: AsyncSession) -> dict[tuple[str, str], int]:
    """``{(tranche id, bucket): n}`` replayed from the movements alone.

    Buckets: ``received`` (quantities), ``consumed``, ``spoiled``, ``written_off`` (write-offs minus restores).
    """
    counts: dict[tuple[str, str], int] = {}
    rows = await session.execute(
        select(Movement.tranche_id, Movement.kind, Movement.to_state, func.sum(Movement.quantity))
        .where(Movement.tranche_id.is_not(None), Movement.serial.is_not(None) | (Movement.kind == "received"))
        .group_by(Movement.tranche_id, Movement.kind, Movement.to_state)
    )
    for tranche_id, kind, to_state, total in rows:
        key: str | None = None
        sign = 1
        if kind == MovementKind.RECEIVED.value:
            key = "received"
        elif kind in (MovementKind.CONSUMED.value, MovementKind.SPOILED.value):
            key = kind
        elif kind == MovementKind.ADJUSTMENT.value:
            key = "written_off"
            sign = 1 if to_state == BlankState.WRITTEN_OFF.value else -1
        if key is not None and tranche_id is not None:
            counts[(tranche_id, key)] = counts.get((tranche_id, key), 0) + sign * int(total or 0)
    return counts


async def usage_since(session: AsyncSession, since: dt.datetime) -> int:
    """Blanks used up (consumed or spoiled) since ``since``."""
    kinds = [MovementKind.CONSUMED.value, MovementKind.SPOILED.value]
    return (
        await session.scalar(
            select(func.coalesce(func.sum(Movement.quantity), 0)).where(Movement.kind.in_(kinds), Movement.at >= since)
        )
        or 0
    )


async def custody_movements(session: AsyncSession, blank: Blank) -> Sequence[Movement]:
    """Every movement that concerns ``blank``: its tranche's receipt, its own entries, and its job's reservation."""
    jobs = select(Movement.job_id).where(Movement.serial == blank.serial, Movement.job_id.is_not(None))
    query = (
        select(Movement)
        .where(
            or_(
                Movement.serial == blank.serial,
                (Movement.kind == MovementKind.RECEIVED.value) & (Movement.tranche_id == blank.tranche_id),
                Movement.serial.is_(None) & Movement.job_id.in_(jobs),
            )
        )
        .order_by(Movement.id)
    )
    return list(await session.scalars(query))


class MovementFilters:
    def __init__(
        self,
        *,
        kind: MovementKind | None = None,
        serial: str | None = None,
        job_id: str | None = None,
        tranche_id: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
    ) -> None:
        self.kind, self.serial, self.job_id, self.tranche_id = kind, serial, job_id, tranche_id
        self.since, self.until = since, until


async def list_movements(
    session: AsyncSession, filters: MovementFilters, *, limit: int, offset: int
) -> tuple[Sequence[Movement], int]:
    query = select(Movement)
    if filters.kind is not None:
        query = query.where(Movement.kind == filters.kind.value)
    if filters.serial is not None:
        query = query.where(Movement.serial == filters.serial)
    if filters.job_id is not None:
        query = query.where(Movement.job_id == filters.job_id)
    if filters.tranche_id is not None:
        query = query.where(Movement.tranche_id == filters.tranche_id)
    if filters.since is not None:
        query = query.where(Movement.at >= filters.since)
    if filters.until is not None:
        query = query.where(Movement.at < filters.until)
    return await paginate(session, query, Movement.id.desc(), limit=limit, offset=offset)
