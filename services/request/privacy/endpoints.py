"""The access log and a resident's own data (admin)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import HTMLResponse, Response

from services.common.auth import Authorize, Principal, Role
from services.common.db import ReadSession
from services.common.pagination import Page, PageParams
from services.common.problems import problem_responses
from services.request.context import Context
from services.request.privacy import resident_page
from services.request.privacy.access import (
    AccessAction,
    AccessEventOut,
    Looking,
    Purpose,
    list_access,
    record_access,
)
from services.request.privacy.resident_data import ResidentData, gather

__all__ = ["router"]

router = APIRouter(tags=["personal data"])

Admin = Annotated[Principal, Depends(Authorize(Role.ADMIN))]
Nik = Annotated[str, Query(pattern=r"^\d{16}$")]


@router.get(
    "/v1/access-log",
    response_model=Page[AccessEventOut],
    summary="Who looked at which resident's data, when and why (admin)",
    responses=problem_responses(401, 403, 422),
)
async def read_access_log(
    session: ReadSession,
    _: Admin,
    page: Annotated[PageParams, Depends()],
    request_id: str | None = None,
    nik: Nik | None = None,
    user: Annotated[str | None, Query(description="the caller who looked (a token's subject)")] = None,
    action: AccessAction | None = None,
) -> Page[AccessEventOut]:
    """Newest first. Reading the log is not itself logged: it shows NIKs and request ids, never a resident's
    card, and only an admin reads it (the audit trail's rule)."""
    items, total = await list_access(
        session,
        request_id=request_id,
        nik=nik,
        actor=user,
        action=action.value if action else None,
        limit=page.limit,
        offset=page.offset,
    )
    return Page[AccessEventOut](items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/v1/residents/{nik}/data",
    response_model=ResidentData,
    summary="Everything held about one NIK: the resident's right of access (admin; ?format=html to print)",
    responses={200: {"content": {"text/html": {}}}, **problem_responses(401, 403, 422)},
)
async def resident_data(
    nik: Annotated[str, Path(pattern=r"^\d{16}$", description="the resident's NIK, 16 digits")],
    sessions: Looking,
    context: Context,
    principal: Admin,
    purpose: Purpose,
    fmt: Annotated[Literal["json", "html"], Query(alias="format")] = "json",
) -> Response:
    """What was held when the call came (nothing held: every list empty, so the office can say so), and the
    export recorded as a look of its own (access row ``export``), which the next document lists."""
    now = context.clock()
    document = await gather(sessions.read, nik, generated_by=principal.subject, at=now)
    await record_access(sessions.record, principal, AccessAction.EXPORT, nik=nik, purpose=purpose, at=now)
    headers = {"Cache-Control": "no-store"}
    if fmt == "html":
        headers["Content-Security-Policy"] = resident_page.PAGE_CSP
        return HTMLResponse(resident_page.render(document), headers=headers)
    return Response(document.model_dump_json(), media_type="application/json", headers=headers)
