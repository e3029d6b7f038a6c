"""The audit trail: every state change writes a row in the same transaction as the change; the rows form a hash
chain (services.common.audit_chain), so a row edited, inserted or removed afterwards shows.

``Auditor(AuditEvent).record(session, principal, ...)`` adds the row (some repositories write theirs with core
INSERTs, COPY or a one-statement CTE); ``audit_router(AuditEvent)`` gives admins ``GET /v1/audit`` and
``GET /v1/audit/export`` (JSON Lines or CSV, streamed, with the chain head); ``ektp audit verify`` checks a
database or an export (services/ops/audit.py).
"""

import csv
import datetime as dt
import io
import json
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.audit_chain import AUDIT_TABLE, EXPORT_FIELDS, chain_head, chain_records
from services.common.auth import Authorize, Principal, Role
from services.common.db import Database, ReadSession
from services.common.models import AuditEventMixin
from services.common.pagination import Page, PageParams, paginate, where_given

__all__ = ["AuditEventOut", "Auditor", "audit_router", "csv_cell", "uncsv_cell"]


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: dt.datetime
    actor: str
    actor_role: str
    action: str
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class Auditor:
    """Writes audit rows into one service's audit table."""

    def __init__(self, model: type[AuditEventMixin]) -> None:
        self.model = model
        # Mixins declare columns, not the constructor: the concrete model takes them as keywords.
        self._new: Callable[..., AuditEventMixin] = model

    def record(
        self,
        session: AsyncSession,
        principal: Principal,
        action: str,
        object_type: str,
        object_id: str,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        session.add(
            self._new(
                actor=principal.subject,
                actor_role=principal.role.value,
                action=action,
                object_type=object_type,
                object_id=str(object_id),
                before=before,
                after=after,
            )
        )


# starts with ' itself, so that ``uncsv_cell`` gives back exactly what was written.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def csv_cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def uncsv_cell(cell: str) -> str:
    return cell[1:] if cell.startswith("'") else cell


def _csv_line(values: Iterable[Any]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue()


def _csv_row(record: Mapping[str, Any]) -> str:
    cells = []
    for key in EXPORT_FIELDS:
        value = record[key]
        if key in ("before", "after"):
            value = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        cells.append(csv_cell(value) if isinstance(value, str) else value)
    return _csv_line(cells)


class ExportTrailer(BaseModel):
    """The last line of a JSON Lines export: the chain's head when the export began, and what it holds."""

    chain_head: dict[str, Any]  # {"seq": …, "hash": …}
    rows: int
    filters: dict[str, str]  # none: the whole chain up to the head


def _filters(values: Mapping[str, str | None]) -> list[sa.ColumnElement[bool]]:
    return [AUDIT_TABLE.c[name] == value for name, value in values.items() if value is not None]


async def _export_body(
    db: Database,
    fmt: Literal["jsonl", "csv"],
    head: tuple[int, str],
    filters: dict[str, str],
) -> AsyncIterator[str]:
    rows = 0
    if fmt == "csv":
        yield _csv_line(EXPORT_FIELDS)
    # Its own session: the endpoint's is closed before the body streams.
    async with db.read_sessions() as session:
        try:
            async for record in chain_records(session, upto=head[0], where=_filters(filters)):
                rows += 1
                yield _csv_row(record) if fmt == "csv" else json.dumps(record, ensure_ascii=False) + "\n"
        finally:
            await session.rollback()
    if fmt == "jsonl":
        trailer = ExportTrailer(chain_head={"seq": head[0], "hash": head[1]}, rows=rows, filters=filters)
        yield trailer.model_dump_json() + "\n"


MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


def audit_router(model: type[AuditEventMixin]) -> APIRouter:
    router = APIRouter(prefix="/v1/audit", tags=["audit"])
    admin = Authorize(Role.ADMIN)

    @router.get("", response_model=Page[AuditEventOut], summary="Read the audit trail (admin)")
    async def list_audit_events(
        session: ReadSession,
        _: Annotated[Principal, Depends(admin)],
        page: Annotated[PageParams, Depends()],
        object_type: str | None = None,
        object_id: str | None = None,
        action: str | None = None,
        actor: str | None = None,
    ) -> Page[AuditEventOut]:
        filters = [(model.object_type, object_type), (model.object_id, object_id), (model.action, action)]
        query = where_given(select(model), [*filters, (model.actor, actor)])
        rows, total = await paginate(session, query, model.id.desc(), limit=page.limit, offset=page.offset)
        return Page[AuditEventOut](
            items=[AuditEventOut.model_validate(r) for r in rows],
            total=total,
            limit=page.limit,
            offset=page.offset,
        )

    @router.get(
        "/export",
        response_class=StreamingResponse,
        summary="Export the audit trail with its hash chain, for offline verification (admin)",
        responses={200: {"content": {"application/x-ndjson": {}, "text/csv": {}}}},
    )
    async def export_audit_events(
        request: Request,
        session: ReadSession,
        _: Annotated[Principal, Depends(admin)],
        fmt: Annotated[Literal["jsonl", "csv"], Query(alias="format")] = "jsonl",
        object_type: str | None = None,
        object_id: str | None = None,
        action: str | None = None,
        actor: str | None = None,
    ) -> StreamingResponse:
        """Rows in seq order up to the head as the call began; JSON Lines end with a trailer naming that head.
        The head is in the headers too (``X-Audit-Chain-Seq``, ``X-Audit-Chain-Head``)."""
        given = {"object_type": object_type, "object_id": object_id, "action": action, "actor": actor}
        filters = {name: value for name, value in given.items() if value is not None}
        head = await chain_head(session)
        return StreamingResponse(
            _export_body(request.app.state.db, fmt, head, filters),
            media_type=MEDIA_TYPES[fmt],
            headers={
                "X-Audit-Chain-Seq": str(head[0]),
                "X-Audit-Chain-Head": head[1],
                "Content-Disposition": f'attachment; filename="audit.{fmt}"',
            },
        )

    return router
