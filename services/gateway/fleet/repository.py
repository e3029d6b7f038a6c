"""Queries on printers."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.gateway.fleet.states import PrinterLifecycle
from services.gateway.models import Printer

__all__ = ["by_name", "get_printer", "list_printers"]


async def get_printer(session: AsyncSession, printer_id: str) -> Printer | None:
    return await session.get(Printer, printer_id)


async def by_name(session: AsyncSession, name: str) -> Printer | None:
    return await session.scalar(select(Printer).where(Printer.name == name))


async def list_printers(
    session: AsyncSession, *, states: Sequence[PrinterLifecycle] | None = None, include_removed: bool = False
) -> Sequence[Printer]:
    query = select(Printer)
    if states is not None:
        query = query.where(Printer.state.in_([s.value for s in states]))
    elif not include_removed:
        query = query.where(Printer.state != PrinterLifecycle.REMOVED)
    return (await session.scalars(query.order_by(Printer.name))).all()
