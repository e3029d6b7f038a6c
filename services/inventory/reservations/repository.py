"""Queries of reservations."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.pagination import paginate
from services.inventory.models import Reservation
from services.inventory.states import ReservationStatus

__all__ = ["get", "list_reservations", "overdue"]


async def get(session: AsyncSession, job_id: str, *, for_update: bool = False) -> Reservation | None:
    query = select(Reservation).where(Reservation.job_id == job_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def overdue(session: AsyncSession, now: dt.datetime, *, limit: int = 500) -> Sequence[Reservation]:
    """Reservations past their time-to-live, locked (others skipped: a job consuming one wins)."""
    query = (
        select(Reservation)
        .where(Reservation.status == ReservationStatus.RESERVED.value, Reservation.expires_at < now)
        .order_by(Reservation.expires_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(await session.scalars(query))


async def list_reservations(
    session: AsyncSession, status: ReservationStatus | None, *, limit: int, offset: int
) -> tuple[Sequence[Reservation], int]:
    query = select(Reservation)
    if status is not None:
        query = query.where(Reservation.status == status.value)
    return await paginate(session, query, Reservation.created_at.desc(), limit=limit, offset=offset)
