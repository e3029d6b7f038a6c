"""Queries of batches and their error reports."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, literal, null, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.models import UTCDateTime
from services.common.pagination import paginate
from services.request.models import AuditEvent, Batch, BatchDecision, BatchError, PrintRequest
from services.request.print_requests.repository import copy_records, copy_rows
from services.request.print_requests.states import RequestStatus

__all__ = [
    "AUDIT_COLUMNS",
    "approve_all_pending",
    "by_hash",
    "decide_rows",
    "decision_counts",
    "decisions",
    "errors",
    "get",
    "insert_audit_rows",
    "insert_created_audit_rows",
    "insert_errors",
    "list_batches",
    "listed_rows",
    "pending_rows",
]


async def get(session: AsyncSession, batch_id: str, *, for_update: bool = False) -> Batch | None:
    batch: Batch | None = await session.get(Batch, batch_id, with_for_update=for_update or None)
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
    status: RequestStatus = RequestStatus.QUEUED,
) -> None:
    """The ``request.created`` audit rows of a batch's requests (``created``: request id and priority of each), in
    the batch's transaction. Only the priority varies between them: each JSON document is made once."""
    if not created:
        return
    before = {"status": RequestStatus.RECEIVED.value}
    after = {
        priority: {"status": status.value, "batch_id": batch_id, "priority": priority}
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


async def listed_rows(session: AsyncSession, batch_id: str) -> int:
    """How many refused rows the report lists (a row's number is unique in its batch)."""
    query = select(func.count(func.distinct(BatchError.row))).where(BatchError.batch_id == batch_id)
    return int(await session.scalar(query) or 0)


async def list_batches(
    session: AsyncSession, *, submitted_by: str | None, limit: int, offset: int
) -> tuple[Sequence[Batch], int]:
    query = select(Batch)
    if submitted_by is not None:
        query = query.where(Batch.submitted_by == submitted_by)
    return await paginate(session, query, Batch.created_at.desc(), Batch.id, limit=limit, offset=offset)


# --- proposal review (batches/review.py) --------------------------------------------------------------------

_RECEIVED = RequestStatus.RECEIVED.value


async def pending_rows(session: AsyncSession, batch_id: str, rows: Sequence[int]) -> dict[int, str]:
    """Row number → request id of ``rows`` that still await the office's decision (status ``received``)."""
    query = select(PrintRequest.batch_row, PrintRequest.id).where(
        PrintRequest.batch_id == batch_id, PrintRequest.status == _RECEIVED, PrintRequest.batch_row.in_(list(rows))
    )
    return {row: request_id for row, request_id in (await session.execute(query)).all() if row is not None}


async def approve_all_pending(session: AsyncSession, *, batch_id: str, principal: Principal, at: dt.datetime) -> int:
    """Approve every row of the batch still awaiting a decision: two set-based statements (record the decisions,
    queue the requests), however many rows. Returns how many."""
    decided = select(
        literal(batch_id),
        PrintRequest.batch_row,
        PrintRequest.id,
        literal("approve"),
        null(),
        literal(principal.subject),
        literal(principal.role.value),
        literal(at, UTCDateTime()),
    ).where(PrintRequest.batch_id == batch_id, PrintRequest.status == _RECEIVED)
    columns = ["batch_id", "row", "request_id", "decision", "reason", "decided_by", "decided_role", "decided_at"]
    await session.execute(insert(BatchDecision).from_select(columns, decided))
    queued = await session.execute(
        update(PrintRequest)
        .where(PrintRequest.batch_id == batch_id, PrintRequest.status == _RECEIVED)
        .values(status=RequestStatus.QUEUED.value, updated_at=at)
        .execution_options(synchronize_session=False)
    )
    return int(queued.rowcount or 0)  # type: ignore[attr-defined]


async def decide_rows(
    session: AsyncSession,
    *,
    batch_id: str,
    principal: Principal,
    at: dt.datetime,
    approve: Sequence[tuple[int, str]],
    reject: Sequence[tuple[int, str, str]],
) -> None:
    """Queue the ``approve`` rows ((row, request id)), reject the ``reject`` rows ((row, request id, reason)) and
    record each decision: one UPDATE for the approvals, one executemany for the rejections."""
    table = cast(Table, PrintRequest.__table__)
    if approve:
        await session.execute(
            update(PrintRequest)
            .where(PrintRequest.id.in_([rid for _, rid in approve]), PrintRequest.status == _RECEIVED)
            .values(status=RequestStatus.QUEUED.value, updated_at=at)
            .execution_options(synchronize_session=False)
        )
    if reject:
        statement = (
            table.update()
            .where(table.c.id == bindparam("request_id"), table.c.status == _RECEIVED)
            .values(status=RequestStatus.REJECTED.value, status_note=bindparam("note"), updated_at=at)
        )
        connection = await session.connection()
        await connection.execute(statement, [{"request_id": rid, "note": reason[:300]} for _, rid, reason in reject])
    head = {"batch_id": batch_id, "decided_by": principal.subject, "decided_role": principal.role.value}
    records = [{**head, "row": row, "request_id": rid, "decision": "approve", "reason": None} for row, rid in approve]
    records += [
        {**head, "row": row, "request_id": rid, "decision": "reject", "reason": reason[:300]}
        for row, rid, reason in reject
    ]
    await session.execute(insert(BatchDecision), [{**r, "decided_at": at} for r in records])


async def decision_counts(session: AsyncSession, batch_id: str) -> dict[str, int]:
    query = (
        select(BatchDecision.decision, func.count())
        .where(BatchDecision.batch_id == batch_id)
        .group_by(BatchDecision.decision)
    )
    return {decision: int(count) for decision, count in (await session.execute(query)).all()}


async def decisions(
    session: AsyncSession, batch_id: str, *, limit: int, offset: int
) -> tuple[Sequence[BatchDecision], int]:
    query = select(BatchDecision).where(BatchDecision.batch_id == batch_id)
    return await paginate(session, query, BatchDecision.row, BatchDecision.id, limit=limit, offset=offset)
