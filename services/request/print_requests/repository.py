"""Queries of print requests."""

from __future__ import annotations

import json
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, String, any_, bindparam, insert, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from services.common.models import UTCDateTime
from services.common.pagination import paginate
from services.request.models import FINAL_STATUSES_SQL, AuditEvent, PrintRequest

__all__ = [
    "RequestFilters",
    "active_by_nik",
    "active_niks",
    "bulk_insert",
    "copy_records",
    "copy_rows",
    "get",
    "history",
    "insert_queued",
    "insert_queued_pg",
    "list_requests",
]

# Written exactly as the partial unique index's predicate (models.py), so both databases use that index.
ACTIVE_SQL = text(f"print_requests.status NOT IN ({FINAL_STATUSES_SQL})")  # the unique index's own predicate


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
    mobile_visit_id: str | None = None


async def get(session: AsyncSession, request_id: str, *, for_update: bool = False) -> PrintRequest | None:
    query = select(PrintRequest).where(PrintRequest.id == request_id)
    if for_update:
        query = query.with_for_update()
    found: PrintRequest | None = await session.scalar(query)
    return found


async def history(session: AsyncSession, request_id: str) -> Sequence[AuditEvent]:
    """The request's audit rows, oldest first (object_id is indexed)."""
    query = select(AuditEvent).where(AuditEvent.object_type == "print_request", AuditEvent.object_id == request_id)
    return (await session.scalars(query.order_by(AuditEvent.id))).all()


async def active_by_nik(session: AsyncSession, nik: str) -> str | None:
    """The id of the NIK's active request, if there is one."""
    query = select(PrintRequest.id).where(PrintRequest.nik == nik, ACTIVE_SQL)
    found: str | None = await session.scalar(query)
    return found


# PostgreSQL: one statement for any number of NIKs (one array parameter), served by the partial unique index.
_ACTIVE_NIKS_PG = select(PrintRequest.nik, PrintRequest.id).where(
    PrintRequest.nik == any_(bindparam("niks", type_=postgresql.ARRAY(String()))), ACTIVE_SQL
)


async def active_niks(session: AsyncSession, niks: Iterable[str], *, chunk: int = 1000) -> dict[str, str]:
    """``{nik: request id}`` for those of ``niks`` that have an active request."""
    wanted = list(niks)
    found: dict[str, str] = {}
    if not wanted:
        return found
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        rows = await connection.execute(_ACTIVE_NIKS_PG, {"niks": wanted})
        return {nik: rid for nik, rid in rows.all()}
    for start in range(0, len(wanted), chunk):
        part = wanted[start : start + chunk]
        query = select(PrintRequest.nik, PrintRequest.id).where(PrintRequest.nik.in_(part), ACTIVE_SQL)
        found.update({nik: rid for nik, rid in (await session.execute(query)).all()})
    return found


async def copy_records(
    connection: AsyncConnection, table: str, columns: Sequence[str], records: Sequence[tuple[Any, ...]]
) -> None:
    """PostgreSQL: COPY ``records`` (tuples in the order of ``columns``) into ``table``, in the connection's
    transaction. COPY is several times faster than a multi-row INSERT for tens of thousands of rows with images."""
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    await driver.copy_records_to_table(table, records=records, columns=list(columns))


async def copy_rows(session: AsyncSession, table: str, rows: Sequence[dict[str, Any]]) -> bool:
    """On PostgreSQL, COPY ``rows`` (dicts, the same keys in each) into ``table``; False elsewhere."""
    connection = await session.connection()
    if connection.dialect.name != "postgresql" or not rows:
        return False
    columns = list(rows[0])
    get = operator.itemgetter(*columns)
    records = [get(r) for r in rows] if len(columns) > 1 else [(get(r),) for r in rows]
    await copy_records(connection, table, columns, records)
    return True


async def bulk_insert(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """All ``rows`` (dicts of column values, the same keys in each): COPY on PostgreSQL, else executemany."""
    if rows and not await copy_rows(session, "print_requests", rows):
        await session.execute(insert(PrintRequest), list(rows))


# Every column a new request is stored with, but its queue key (from the lane).
_NEW_COLUMNS = [c for c in PrintRequest.__table__.columns if c.name != "queue_key"]
_PG: Any = postgresql.dialect()  # type: ignore[no-untyped-call]


def _insert_queued_sql() -> Any:
    """PostgreSQL: a submission in one round trip — take the lane's next key, store the request, write its audit row.

    The lane's UPDATE locks the lane row (as ``take_keys`` does); when the lane does not exist yet, the statement
    changes nothing and returns no row. A second active request for the NIK fails the whole statement (the
    partial unique index), so nothing of it stays.
    """
    names = ", ".join(c.name for c in _NEW_COLUMNS)
    casts = ", ".join(f"CAST(:{c.name} AS {c.type.compile(dialect=_PG)})" for c in _NEW_COLUMNS)
    statement = text(
        f"""
WITH lane AS (
    UPDATE queue_lanes
    SET last_key = CASE WHEN last_key + :spacing > :base THEN last_key + :spacing ELSE :base END
    WHERE priority = :lane_priority AND source = :lane_source AND kecamatan_code = :lane_kecamatan
    RETURNING last_key
), created AS (
    INSERT INTO print_requests ({names}, queue_key)
    SELECT {casts}, last_key FROM lane
    RETURNING id
), audit AS (
    INSERT INTO audit_events (at, actor, actor_role, action, object_type, object_id, before, after)
    SELECT CAST(:audit_at AS timestamptz), CAST(:audit_actor AS text), CAST(:audit_actor_role AS text),
           CAST(:audit_action AS text), 'print_request', id, CAST(:audit_before AS json), CAST(:audit_after AS json)
    FROM created
)
SELECT last_key FROM lane
"""  # noqa: S608 - our own column names and types, no input
    )
    return statement.bindparams(
        *(bindparam(c.name, type_=c.type) for c in _NEW_COLUMNS),
        bindparam("spacing", type_=BigInteger()),
        bindparam("base", type_=BigInteger()),
        bindparam("lane_priority", type_=String()),
        bindparam("lane_source", type_=String()),
        bindparam("lane_kecamatan", type_=String()),
        bindparam("audit_at", type_=UTCDateTime()),
        bindparam("audit_before", type_=String()),
        bindparam("audit_after", type_=String()),
    )


_INSERT_QUEUED_PG = _insert_queued_sql()


async def insert_queued_pg(
    connection: AsyncConnection,
    values: dict[str, Any],
    *,
    source: str,
    spacing: int,
    base: int,
    audit: dict[str, Any],
) -> int | None:
    """PostgreSQL: store ``values`` (every column but ``queue_key``) with the next key of the lane (its priority,
    ``source`` and kecamatan) and the audit row (``audit``: at, actor, actor_role, action, before, after as dicts);
    the key, or None if the lane is missing."""
    params = {c.name: values.get(c.name) for c in _NEW_COLUMNS}
    params.update(
        spacing=spacing,
        base=base,
        lane_priority=values["priority"],
        lane_source=source,
        lane_kecamatan=values["kecamatan_code"],
        audit_at=audit["at"],
        audit_actor=audit["actor"],
        audit_actor_role=audit["actor_role"],
        audit_action=audit["action"],
        audit_before=json.dumps(audit["before"]),
        audit_after=json.dumps(audit["after"]),
    )
    key = (await connection.execute(_INSERT_QUEUED_PG, params)).scalar()
    return None if key is None else int(key)


async def insert_queued(connection: AsyncConnection, values: dict[str, Any], audit: dict[str, Any]) -> None:
    """Any database: the request (``values`` with its ``queue_key``) and its audit row, as two core INSERTs."""
    await connection.execute(insert(PrintRequest), values)
    await connection.execute(insert(AuditEvent), {**audit, "object_type": "print_request", "object_id": values["id"]})


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
    if filters.mobile_visit_id is not None:
        query = query.where(PrintRequest.mobile_visit_id == filters.mobile_visit_id)
    return await paginate(session, query, PrintRequest.created_at.desc(), PrintRequest.id, limit=limit, offset=offset)
