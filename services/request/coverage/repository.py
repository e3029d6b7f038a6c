"""Queries of coverage: the figures set by the office and request counts per kecamatan and status."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.request.models import CoverageFigure, PrintRequest

__all__ = ["counts_by_kecamatan", "figures", "get_figure"]


async def figures(session: AsyncSession) -> Sequence[CoverageFigure]:
    return (await session.scalars(select(CoverageFigure))).all()


async def get_figure(session: AsyncSession, kecamatan_code: str) -> CoverageFigure | None:
    figure: CoverageFigure | None = await session.get(CoverageFigure, kecamatan_code)
    return figure


async def counts_by_kecamatan(session: AsyncSession) -> dict[str, dict[str, int]]:
    """``{kecamatan_code: {status: count}}``."""
    query = select(PrintRequest.kecamatan_code, PrintRequest.status, func.count()).group_by(
        PrintRequest.kecamatan_code, PrintRequest.status
    )
    counts: dict[str, dict[str, int]] = {}
    for code, status, n in (await session.execute(query)).all():
        counts.setdefault(code, {})[status] = int(n)
    return counts
