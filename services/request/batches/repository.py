"""Queries of batches and their error reports."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.pagination import paginate
from services.request.models import AuditEvent, Batch, BatchError
from services.request.print_requests.repository import copy_records, copy_rows
from services.request.print_requests.states import RequestStatus

__all__ = [
    "AUDIT_COLUMNS",
    "by_hash",
    "errors",
    "get",
    "insert_audit_rows",
    "insert_created_audit_rows",
    "insert_errors",
    "list_batches",
]


async def get(session: AsyncSession, batch_id: str) -> Batch | None:
    batch: Batch | None = await session.get(Batch, batch_id)
    return batch


async def by_hash(session: AsyncSession, content_hash: str) -> Batch | None:
    batch: Batch | None = await session.scalar(select(Batch).where(Batch.content_hash == content_hash))
    return batch


async def insert_errors(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(BatchError), list(rows))


AUDIT_COLUMNS = ("at", "actor", "actor_role", "action", "object_type", "object_id", "before", "after")


async def insert_created_audit_rows(
    session: AsyncSession,
    *,
    at: dt.datetime,
    principal: Principal,
    batch_id: str,
    created: Sequence[tuple[str, str]],
) -> None:
    """The ``request.created`` audit rows of a batch's requests (``created``: request id and priority of each), in
    the batch's transaction. Only the priority varies between them: each JSON document is made once."""
    if not created:
        return
    before = {"status": RequestStatus.RECEIVED.value}
    after = {
        priority: {"status": RequestStatus.QUEUED.value, "batch_id": batch_id, "priority": priority}
        for priority in {priority for _, priority in created}
    }
    head = (at, principal.subject, principal.role.value, "request.created", "print_request")
    connection = await session.connection()
    if connection.dialect.name == "postgresql":
        # COPY takes JSON columns as text.
        before_text = json.dumps(before)
        after_text = {priority: json.dumps(document) for priority, document in after.items()}
        records = [(*head, request_id, before_text, after_text[priority]) for request_id, priority in created]
        await copy_records(connection, "audit_events", AUDIT_COLUMNS, records)
        return
    await session.execute(
        insert(AuditEvent),
        [dict(zip(AUDIT_COLUMNS, (*head, rid, before, after[priority]), strict=True)) for rid, priority in created],
    )


async def insert_audit_rows(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Audit rows in bulk, in the batch's transaction (one per request created)."""
    if not rows:
        return
    # COPY takes JSON columns as text.
    as_text = [dict(r, before=json.dumps(r["before"]), after=json.dumps(r["after"])) for r in rows]
    if not await copy_rows(session, "audit_events", as_text):
        await session.execute(insert(AuditEvent), list(rows))


async def errors(session: AsyncSession, batch_id: str, *, limit: int, offset: int) -> tuple[Sequence[BatchError], int]:
    query = select(BatchError).where(BatchError.batch_id == batch_id)
    return await paginate(session, query, BatchError.row, BatchError.id, limit=limit, offset=offset)


async def list_batches(
    session: AsyncSession, *, submitted_by: str | None, limit: int, offset: int
) -> tuple[Sequence[Batch], int]:
    query = select(Batch)
    if submitted_by is not None:
        query = query.where(Batch.submitted_by == submitted_by)
    return await paginate(session, query, Batch.created_at.desc(), Batch.id, limit=limit, offset=offset)
