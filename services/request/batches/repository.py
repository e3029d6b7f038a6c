"""Queries of batches and their error reports."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.request.models import AuditEvent, Batch, BatchError
from services.request.print_requests.repository import copy_rows

__all__ = ["by_hash", "errors", "get", "insert_audit_rows", "insert_errors", "list_batches"]


async def get(session: AsyncSession, batch_id: str) -> Batch | None:
    batch: Batch | None = await session.get(Batch, batch_id)
    return batch


async def by_hash(session: AsyncSession, content_hash: str) -> Batch | None:
    batch: Batch | None = await session.scalar(select(Batch).where(Batch.content_hash == content_hash))
    return batch


async def insert_errors(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    if rows:
        await session.execute(insert(BatchError), list(rows))


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
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(BatchError.row, BatchError.id).limit(limit).offset(offset))
    return rows.all(), int(total or 0)


async def list_batches(
    session: AsyncSession, *, submitted_by: str | None, limit: int, offset: int
) -> tuple[Sequence[Batch], int]:
    query = select(Batch)
    if submitted_by is not None:
        query = query.where(Batch.submitted_by == submitted_by)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(Batch.created_at.desc(), Batch.id).limit(limit).offset(offset))
    return rows.all(), int(total or 0)
