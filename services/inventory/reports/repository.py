"""Queries of the reports."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.inventory.models import Movement, Tranche
from services.inventory.states import MovementKind

__all__ = ["spoiled_between"]


async def spoiled_between(session: AsyncSession, start: dt.datetime, end: dt.datetime) -> Sequence[Any]:
    """Spoiled-blank movements in ``[start, end)`` with their tranche's reference, in serial order."""
    rows = await session.execute(
        select(Movement, Tranche.reference)
        .outerjoin(Tranche, Tranche.id == Movement.tranche_id)
        .where(Movement.kind == MovementKind.SPOILED.value, Movement.at >= start, Movement.at < end)
        .order_by(Movement.serial)
    )
    return list(rows)
