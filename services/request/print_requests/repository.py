"""Queries of print requests."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from services.request.models import PrintRequest

__all__ = ["RequestFilters", "active_by_nik", "active_niks", "bulk_insert", "get", "list_requests"]

# Written exactly as the partial unique index's predicate (models.py), so both databases use that index.
ACTIVE_SQL = text("print_requests.status NOT IN ('collected', 'cancelled', 'rejected')")


@dataclass(frozen=True, slots=True)
class RequestFilters:
    status: str | None = None
    kecamatan_codes: frozenset[str] | None = None
    reason: str | None = None
    channel: str | None = None
    priority: str | None = None
    nik: str | None = None
    batch_id: str | None = None
    submitted_by: str | None = None


async def get(session: AsyncSession, request_id: str, *, for_update: bool = False) -> PrintRequest | None:
    query = select(PrintRequest).where(PrintRequest.id == request_id)
    if for_update:
        query = query.with_for_update()
    found: PrintRequest | None = await session.scalar(query)
    return found


async def active_by_nik(session: AsyncSession, nik: str) -> str | None:
    """The id of the NIK's active request, if there is one."""
    query = select(PrintRequest.id).where(PrintRequest.nik == nik, ACTIVE_SQL)
    found: str | None = await session.scalar(query)
    return found


async def active_niks(session: AsyncSession, niks: Iterable[str], *, chunk: int = 1000) -> dict[str, str]:
    """``{nik: request id}`` for those of ``niks`` that have an active request."""
    wanted = list(niks)
    found: dict[str, str] = {}
    for start in range(0, len(wanted), chunk):
        part = wanted[start : start + chunk]
        query = select(PrintRequest.nik, PrintRequest.id).where(PrintRequest.nik.in_(part), ACTIVE_SQL)
        found.update({nik: rid for nik, rid in (await session.execute(query)).all()})
    return found


async def copy_rows(session: AsyncSession, table: str, rows: Sequence[dict[str, Any]]) -> bool:
    """On PostgreSQL, COPY ``rows`` into ``table`` inside the session's transaction; False elsewhere.

    COPY is several times faster than a multi-row INSERT for tens of thousands of rows with images.
    """
    connection = await session.connection()
    if connection.dialect.name != "postgresql" or not rows:
        return False
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    columns = list(rows[0])
    await driver.copy_records_to_table(table, records=[tuple(r[c] for c in columns) for r in rows], columns=columns)
    return True


async def bulk_insert(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """All ``rows`` (dicts of column values, the same keys in each): COPY on PostgreSQL, else executemany."""
    if rows and not await copy_rows(session, "print_requests", rows):
        await session.execute(insert(PrintRequest), list(rows))


async def list_requests(
    session: AsyncSession, filters: RequestFilters, *, limit: int, offset: int
) -> tuple[Sequence[PrintRequest], int]:
    query = select(PrintRequest)
    if filters.status is not None:
        query = query.where(PrintRequest.status == filters.status)
    if filters.kecamatan_codes is not None:
        query = query.where(PrintRequest.kecamatan_code.in_(sorted(filters.kecamatan_codes)))
    if filters.reason is not None:
        query = query.where(PrintRequest.reason == filters.reason)
    if filters.channel is not None:
        query = query.where(PrintRequest.channel == filters.channel)
    if filters.priority is not None:
        query = query.where(PrintRequest.priority == filters.priority)
    if filters.nik is not None:
        query = query.where(PrintRequest.nik == filters.nik)
    if filters.batch_id is not None:
        query = query.where(PrintRequest.batch_id == filters.batch_id)
    if filters.submitted_by is not None:
        query = query.where(PrintRequest.submitted_by == filters.submitted_by)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(PrintRequest.created_at.desc(), PrintRequest.id).limit(limit).offset(offset)
    )
    return rows.all(), int(total or 0)
