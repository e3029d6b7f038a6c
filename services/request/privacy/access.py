"""Every look at a resident's personal data, on record: who, when, which request and NIK, and why (UU 27/2022 PDP).

A *look* is an answer that carries a resident's personal fields (the card's data) to a caller:

=========  ==================================  =====================================================
action     call                                rows
=========  ==================================  =====================================================
view       ``GET /v1/requests/{id}``           one (the service role too: the gateway's card preview)
search     ``GET /v1/requests?nik=…``          one per request found, one without a request if none;
                                               ``purpose`` required
list       ``GET /v1/requests`` (a page)       one per listed request, in one INSERT
claim      ``POST /v1/queue/claims``           one per job (the claim carries photo and signature),
                                               in the claim's own statement or transaction
export     ``GET /v1/residents/{nik}/data``    one
=========  ==================================  =====================================================

Not a look: a refusal (403/404 show nothing); queue positions, stats and cards by serial (no personal field);
the answer to a change the caller just made (cancel, resolve, the gateway's reports), which the audit trail
already names; a claim's renewal or replay, whose job already holds the card and whose claim row covers it.

The rows go into the caller's transaction, so the answer and its record commit together: a look whose record
was not written is never answered. Every row carries the NIK, so ``?nik=`` finds all of a resident's.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Query, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.db import Database, DbSession, ReadSession
from services.common.pagination import paginate, where_given
from services.common.problems import Unprocessable
from services.request.models import AccessEvent

__all__ = [
    "PURPOSE_HEADER",
    "AccessAction",
    "AccessEventOut",
    "LookSessions",
    "Looking",
    "Purpose",
    "access_purpose",
    "list_access",
    "record_access",
    "require_purpose",
]

PURPOSE_HEADER = "X-Access-Purpose"
PURPOSE_MAX = 200  # access_events.purpose


class AccessAction(enum.StrEnum):
    VIEW = "view"
    SEARCH = "search"
    LIST = "list"
    CLAIM = "claim"
    EXPORT = "export"


class AccessEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: dt.datetime
    actor: str
    actor_role: str
    action: str
    request_id: str | None
    nik: str | None
    purpose: str | None


async def access_purpose(
    purpose: Annotated[
        str | None, Query(description=f"Why the data is read (or the {PURPOSE_HEADER} header); at most 200 characters")
    ] = None,
    header: Annotated[str | None, Header(alias=PURPOSE_HEADER, include_in_schema=False)] = None,
) -> str | None:
    """The caller's stated purpose: the ``purpose`` query parameter, else the ``X-Access-Purpose`` header; trimmed,
    None when blank. The query wins because a person typed it for this call; the header is a client's default."""
    given = (purpose if purpose is not None and purpose.strip() else header or "").strip()
    if len(given) > PURPOSE_MAX:
        raise Unprocessable.field("purpose", f"at most {PURPOSE_MAX} characters")
    return given or None


Purpose = Annotated[str | None, Depends(access_purpose)]


@dataclass(frozen=True, slots=True)
class LookSessions:
    """Where a look reads the data, and where it records itself (committed before the answer is sent)."""

    read: AsyncSession
    record: AsyncSession


async def look_sessions(request: Request, read: ReadSession, record: DbSession) -> LookSessions:
    """SQLite: read on the read engine (never waiting for the writer), record on the writer, which is taken only
    for the INSERT. PostgreSQL: one session for both, so a call holds one pooled connection: a call holding its
    read connection while waiting for a second could, with every call doing so, empty the pool for good."""
    db: Database = request.app.state.db
    return LookSessions(read=read if db.sqlite else record, record=record)


Looking = Annotated[LookSessions, Depends(look_sessions)]


def require_purpose(purpose: str | None, what: str) -> str:
    """``purpose``, or 422 naming ``purpose``: some looks (a NIK search) must say why."""
    if purpose is None:
        raise Unprocessable.field("purpose", f"{what} needs a purpose (?purpose= or the {PURPOSE_HEADER} header)")
    return purpose


async def record_access(
    session: AsyncSession,
    principal: Principal,
    action: AccessAction,
    *,
    requests: Iterable[tuple[str, str]] = (),
    nik: str | None = None,
    purpose: str | None = None,
    at: dt.datetime,
) -> None:
    """Record one look, in ``session``'s transaction: one row per ``(request id, its NIK)`` of ``requests``, or,
    with none, one row naming ``nik`` alone (a search that found nothing, a resident's export). One INSERT."""
    base = {"at": at, "actor": principal.subject, "actor_role": principal.role.value, "action": action.value}
    rows = [{**base, "request_id": rid, "nik": rnik, "purpose": purpose} for rid, rnik in requests]
    if not rows:
        rows = [{**base, "request_id": None, "nik": nik, "purpose": purpose}]
    # A multi-row VALUES: one statement however long the page, and nothing for the ORM to track.
    await session.execute(insert(AccessEvent).values(rows))


async def list_access(
    session: AsyncSession,
    *,
    request_id: str | None,
    nik: str | None,
    actor: str | None,
    action: str | None,
    limit: int,
    offset: int,
) -> tuple[list[AccessEventOut], int]:
    """One page of access rows, newest first, matching every filter given."""
    filters = [(AccessEvent.request_id, request_id), (AccessEvent.nik, nik), (AccessEvent.actor, actor)]
    query = where_given(select(AccessEvent), [*filters, (AccessEvent.action, action)])
    rows, total = await paginate(session, query, AccessEvent.id.desc(), limit=limit, offset=offset)
    return [AccessEventOut.model_validate(r) for r in rows], total
