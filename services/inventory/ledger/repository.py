"""Queries of the ledger: blanks, movements, the stock lock and the counts balances are derived from."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.inventory.models import Blank, Movement, Reservation, Tranche
from services.inventory.states import (
    OPEN_RESERVATION_STATES,
    BlankState,
    MovementKind,
    ReservationStatus,
)

__all__ = [
    "MovementFilters",
    "add_movement",
    "blank_counts",
    "count_open_reservations",
    "count_reservations",
    "count_unused",
    "count_unused_and_reserved",
    "custody_movements",
    "get_blank",
    "ledger_counts",
    "list_movements",
    "lock_stock",
    "reorder_figures",
    "tranche_totals",
    "usage_since",
]


async def lock_stock(session: AsyncSession) -> None:
    """Serialise changes that take blanks away: PostgreSQL locks the one ``stock_lock`` row until commit.

    SQLite needs nothing: the write session began with ``BEGIN IMMEDIATE``, so this transaction is the only
    writer already.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT id FROM stock_lock WHERE id = 1 FOR UPDATE"))


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


async def count_unused_and_reserved(session: AsyncSession) -> tuple[int, int]:
    """``(unused, reserved)`` in one round trip: the grant path holds the stock lock while it waits for this."""
    states = [s.value for s in OPEN_RESERVATION_STATES]
    unused = select(func.count()).where(Blank.state == BlankState.AVAILABLE.value).scalar_subquery()
    reserved = select(func.count()).where(Reservation.status.in_(states)).scalar_subquery()
    row = (await session.execute(select(unused, reserved))).one()
    return int(row[0] or 0), int(row[1] or 0)


async def reorder_figures(session: AsyncSession, since: dt.datetime) -> tuple[int, int, int]:
    """``(unused, reserved, used since)`` in one round trip, for the reorder check after each used blank."""
    states = [s.value for s in OPEN_RESERVATION_STATES]
    kinds = [MovementKind.CONSUMED.value, MovementKind.SPOILED.value]
    unused = select(func.count()).where(Blank.state == BlankState.AVAILABLE.value).scalar_subquery()
    reserved = select(func.count()).where(Reservation.status.in_(states)).scalar_subquery()
    used = (
        select(func.coalesce(func.sum(Movement.quantity), 0))
        .where(Movement.kind.in_(kinds), Movement.at >= since)
        .scalar_subquery()
    )
    row = (await session.execute(select(unused, reserved, used))).one()
    return int(row[0] or 0), int(row[1] or 0), int(row[2] or 0)


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
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(query.order_by(Movement.id.desc()).limit(limit).offset(offset))
    return list(rows), total
