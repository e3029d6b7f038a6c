"""Queries of Sukets: the next register number, the register's filters, the counts the queue and coverage show."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.request.sukets.models import Suket, SuketCounter
from services.request.sukets.schemas import SuketStatus

__all__ = [
    "SuketFilters",
    "count_valid",
    "filtered",
    "latest_for_request",
    "next_seq",
    "status_is",
    "valid_by_kecamatan",
]

VALID = SuketStatus.VALID.value


async def next_seq(session: AsyncSession, year: int) -> int:
    """The year's next register number: one upsert, which holds the counter's row lock until the transaction
    ends (two offices issuing at once get two numbers, never one; a rolled-back issue gives its number back)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(SuketCounter)
        .values(year=year, last_seq=1)
        .on_conflict_do_update(index_elements=[SuketCounter.year], set_={"last_seq": SuketCounter.last_seq + 1})
        .returning(SuketCounter.last_seq)
    )
    return int((await session.execute(statement)).scalar_one())


def status_is(status: SuketStatus, today: dt.date) -> ColumnElement[bool]:
    """Sukets whose status reads ``status`` today (a valid one past its date reads expired)."""
    if status is SuketStatus.VALID:
        return and_(Suket.status == VALID, Suket.valid_until >= today)
    if status is SuketStatus.EXPIRED:
        return or_(Suket.status == SuketStatus.EXPIRED.value, and_(Suket.status == VALID, Suket.valid_until < today))
    return Suket.status == status.value


@dataclass(frozen=True, slots=True)
class SuketFilters:
    status: SuketStatus | None = None
    kecamatan_code: str | None = None
    issued_from: dt.date | None = None
    issued_to: dt.date | None = None


def filtered(filters: SuketFilters, today: dt.date) -> Select[Any]:
    query = select(Suket)
    if filters.status is not None:
        query = query.where(status_is(filters.status, today))
    if filters.kecamatan_code is not None:
        query = query.where(Suket.kecamatan_code == filters.kecamatan_code)
    if filters.issued_from is not None:
        query = query.where(Suket.issued_on >= filters.issued_from)
    if filters.issued_to is not None:
        query = query.where(Suket.issued_on <= filters.issued_to)
    return query


async def latest_for_request(session: AsyncSession, request_id: str) -> Suket | None:
    query = select(Suket).where(Suket.request_id == request_id).order_by(Suket.issued_at.desc(), Suket.seq.desc())
    suket: Suket | None = (await session.scalars(query.limit(1))).first()
    return suket


async def count_valid(session: AsyncSession, today: dt.date) -> int:
    """Residents holding a valid Suket: waiting for their card (a handover withdraws it)."""
    query = select(func.count()).select_from(Suket).where(status_is(SuketStatus.VALID, today))
    return int(await session.scalar(query) or 0)


async def valid_by_kecamatan(session: AsyncSession, today: dt.date) -> dict[str, int]:
    query = (
        select(Suket.kecamatan_code, func.count())
        .where(status_is(SuketStatus.VALID, today))
        .group_by(Suket.kecamatan_code)
    )
    return {code: int(n) for code, n in (await session.execute(query)).all()}
