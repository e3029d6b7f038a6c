"""Queries of tranches and the bulk insert of their blanks."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.models import utcnow
from services.common.pagination import paginate
from services.inventory.models import Blank, Tranche
from services.inventory.states import BlankState

__all__ = ["by_reference", "get", "insert_blanks", "list_tranches", "serials_between"]

CHUNK = 2000


async def get(session: AsyncSession, tranche_id: str) -> Tranche | None:
    return await session.get(Tranche, tranche_id)


async def by_reference(session: AsyncSession, reference: str) -> Tranche | None:
    return await session.scalar(select(Tranche).where(Tranche.reference == reference))


async def serials_between(session: AsyncSession, first: str, last: str) -> list[str]:
    """Serials already on record between ``first`` and ``last`` (string order; the caller checks the width)."""
    rows = await session.scalars(select(Blank.serial).where(Blank.serial >= first, Blank.serial <= last))
    return list(rows)


async def insert_blanks(session: AsyncSession, tranche_id: str, serials: Iterable[str]) -> None:
    """Insert the tranche's blanks in chunks: one multi-row statement per chunk, not one per blank."""
    now = utcnow()
    chunk: list[dict[str, object]] = []
    for serial in serials:
        chunk.append(
            {"serial": serial, "tranche_id": tranche_id, "state": BlankState.AVAILABLE.value, "updated_at": now}
        )
        if len(chunk) >= CHUNK:
            await session.execute(insert(Blank), chunk)
            chunk = []
    if chunk:
        await session.execute(insert(Blank), chunk)


async def list_tranches(session: AsyncSession, *, limit: int, offset: int) -> tuple[Sequence[Tranche], int]:
    return await paginate(session, select(Tranche), Tranche.created_at.desc(), limit=limit, offset=offset)
