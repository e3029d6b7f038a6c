"""Queries of returned cards."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.pagination import paginate
from services.inventory.models import ReturnedCard

__all__ = ["get", "in_month", "list_cards"]


async def get(session: AsyncSession, serial: str, *, for_update: bool = False) -> ReturnedCard | None:
    query = select(ReturnedCard).where(ReturnedCard.serial == serial)
    if for_update:
        query = query.with_for_update()
    found: ReturnedCard | None = await session.scalar(query)
    return found


def _touched_between(start: dt.datetime, end: dt.datetime) -> Any:
    """Received or destroyed in ``[start, end)``."""
    return or_(
        and_(ReturnedCard.received_at >= start, ReturnedCard.received_at < end),
        and_(ReturnedCard.destroyed_at >= start, ReturnedCard.destroyed_at < end),
    )


async def in_month(session: AsyncSession, start: dt.datetime, end: dt.datetime) -> Sequence[ReturnedCard]:
    """Every returned card received or destroyed in ``[start, end)``, in serial order."""
    rows = await session.scalars(select(ReturnedCard).where(_touched_between(start, end)).order_by(ReturnedCard.serial))
    return rows.all()


async def list_cards(
    session: AsyncSession,
    *,
    state: str | None,
    between: tuple[dt.datetime, dt.datetime] | None,
    limit: int,
    offset: int,
) -> tuple[Sequence[ReturnedCard], int]:
    query = select(ReturnedCard)
    if state is not None:
        query = query.where(ReturnedCard.state == state)
    if between is not None:
        query = query.where(_touched_between(*between))
    return await paginate(
        session, query, ReturnedCard.received_at.desc(), ReturnedCard.serial, limit=limit, offset=offset
    )
