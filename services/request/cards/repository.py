"""Queries of the card registry."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.request.models import Card, PrintRequest

__all__ = ["get", "serial_of_request"]


async def get(session: AsyncSession, serial: str, *, for_update: bool = False) -> Card | None:
    query = select(Card).where(Card.serial == serial)
    if for_update:
        query = query.with_for_update()
    found: Card | None = await session.scalar(query)
    return found


async def serial_of_request(session: AsyncSession, request_id: str) -> str | None:
    """The serial of the card printed for ``request_id``, if there is one yet."""
    found: str | None = await session.scalar(select(PrintRequest.card_serial).where(PrintRequest.id == request_id))
    return found
