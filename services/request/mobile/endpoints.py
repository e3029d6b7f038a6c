"""``/v1/desa-figures`` and ``/v1/mobile-visits``: the office's figures per desa, the mobile unit's visit plan,
its confirmed visits, their outcome and the print requests it brings back."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse

from services.common.auth import Authorize, Principal, Role
from services.common.db import DbSession, ReadSession
from services.common.pagination import Page, PageParams
from services.common.problems import FieldError, Unprocessable, problem_responses
from services.request.batches import service as batches
from services.request.batches.schemas import BatchOut
from services.request.context import Context
from services.request.mobile import figures, service
from services.request.mobile.schemas import DesaFigureList, OutcomeIn, PlanOut, VisitIn, VisitOut, VisitStatus

__all__ = ["router"]

# One router for both paths (the app names one router per domain).
router = APIRouter(tags=["mobile visits"])
FIGURES, VISITS = "/v1/desa-figures", "/v1/mobile-visits"

Office = Annotated[Principal, Depends(Authorize(Role.ADMIN, Role.OPERATOR))]
Reader = Annotated[Principal, Depends(Authorize(Role.ADMIN, Role.OPERATOR, Role.CLERK))]
VisitId = Annotated[str, Path(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
Kecamatan = Annotated[str | None, Query(pattern=r"^\d{2}\.\d{2}\.\d{2}$", description="One kecamatan's desa")]

_FIGURES_EXAMPLE = {
    "rows": [
        {"village_code": "18.09.06.2019", "obliged": 1830, "recorded": 1410, "lat": -5.7953, "lon": 105.2744},
        {"village_code": "18.09.05.2004", "obliged": 2210, "recorded": 2050},
    ]
}
_ROW = {
    "type": "object",
    "required": ["village_code", "obliged", "recorded"],
    "properties": {
        "village_code": {"type": "string", "pattern": r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$"},
        "obliged": {"type": "integer", "minimum": 0},
        "recorded": {"type": "integer", "minimum": 0},
        "lat": {"type": ["number", "null"], "minimum": -90, "maximum": 90},
        "lon": {"type": ["number", "null"], "minimum": -180, "maximum": 180},
    },
    "additionalProperties": False,
}
_CSV_EXAMPLE = "village_code,obliged,recorded,lat,lon\n18.09.06.2019,1830,1410,-5.7953,105.2744\n"
_UPLOAD_BODY = {
    "text/csv": {"schema": {"type": "string"}},
    "application/json": {"schema": {"type": "object", "properties": {"rows": {"type": "array"}}}},
}


def _content_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _unsupported(content_type: str) -> Unprocessable:
    return Unprocessable(
        f"unsupported content type {content_type or '(none)'}",
        kind="validation",
        errors=[FieldError(field="Content-Type", reason="text/csv or application/json")],
    )


@router.put(
    FIGURES,
    response_model=DesaFigureList,
    summary="Import desa figures (CSV village_code,obliged,recorded[,lat,lon] or JSON rows): all rows or none",
    responses=problem_responses(409, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {"schema": {"type": "string"}, "example": _CSV_EXAMPLE},
                "application/json": {
                    "schema": {"type": "object", "required": ["rows"],
                               "properties": {"rows": {"type": "array", "items": _ROW}}},
                    "example": _FIGURES_EXAMPLE,
                },
            },
        }
    },
)  # fmt: skip
async def import_desa_figures(
    request: Request, session: DbSession, context: Context, principal: Office
) -> DesaFigureList:
    """Each named desa's figures are replaced; desa the file does not name keep theirs. A row naming a desa
    outside the region data, a bad number or a desa named twice refuses the whole file (422 with each row and
    field), and nothing is written."""
    content_type = _content_type(request)
    if content_type not in ("text/csv", "application/csv", "text/plain", "application/json"):
        raise _unsupported(content_type)
    rows = figures.parse(await request.body(), csv_format=content_type != "application/json", context=context)
    await figures.import_figures(session, context, principal, rows)
    return await figures.list_figures(session, context, None)


@router.get(FIGURES, response_model=DesaFigureList, summary="Desa figures with each desa's gap and queued requests")
async def list_desa_figures(
    session: ReadSession, context: Context, _: Reader, kecamatan: Kecamatan = None
) -> DesaFigureList:
    return await figures.list_figures(session, context, kecamatan)


@router.get(
    f"{VISITS}/plan", response_model=PlanOut, summary="Propose the mobile unit's visits for the next working days"
)
async def plan_mobile_visits(
    session: ReadSession,
    context: Context,
    _: Office,
    days: Annotated[int, Query(ge=1, le=60, description="Working days to plan")] = 5,
    per_day: Annotated[
        int | None, Query(ge=1, le=10_000, description="Residents the unit records a day (default: mobile_per_day)")
    ] = None,
    start: Annotated[dt.date | None, Query(description="First day (default: the working day after today)")] = None,
) -> PlanOut:
    """Desa ranked by gap, weighted for distance from the office; each day the first unplanned desa and its
    nearest neighbours while the day's expected residents stay within ``per_day`` (docs/architecture.md,
    "Mobile recording visits")."""
    return await service.plan(session, context, days=days, per_day=per_day, start=start)


@router.post(VISITS, status_code=201, response_model=VisitOut, summary="Confirm a mobile visit: date, desa, team",
             responses=problem_responses(422))  # fmt: skip
async def confirm_mobile_visit(body: VisitIn, session: DbSession, context: Context, principal: Office) -> VisitOut:
    return await service.confirm(session, context, principal, body)


@router.get(VISITS, response_model=Page[VisitOut], summary="Mobile visits, newest date first")
async def list_mobile_visits(
    session: ReadSession,
    context: Context,
    _: Office,
    page: Annotated[PageParams, Depends()],
    status: VisitStatus | None = None,
) -> Page[VisitOut]:
    items, total = await service.list_visits(session, context, status=status, limit=page.limit, offset=page.offset)
    return Page[VisitOut](items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(VISITS + "/{visit_id}", response_model=VisitOut, summary="A mobile visit", responses=problem_responses(404))
async def get_mobile_visit(visit_id: VisitId, session: ReadSession, context: Context, _: Office) -> VisitOut:
    return await service.get_visit(session, context, visit_id)


@router.post(
    VISITS + "/{visit_id}/outcome",
    response_model=VisitOut,
    summary="Record a visit's outcome: residents recorded per desa (raises the desa's and kecamatan's figures)",
    responses=problem_responses(404, 409, 422),
)
async def record_mobile_visit_outcome(
    visit_id: VisitId, body: OutcomeIn, session: DbSession, context: Context, principal: Office
) -> VisitOut:
    return await service.record_outcome(session, context, principal, visit_id, body)


@router.post(
    VISITS + "/{visit_id}/requests",
    status_code=201,
    response_model=BatchOut,
    summary="Upload the print requests of the residents a visit recorded (a batch: channel mobile_unit)",
    responses=problem_responses(400, 404, 409, 413, 422),
    openapi_extra={"requestBody": {"content": _UPLOAD_BODY}},
)
async def upload_mobile_visit_requests(
    visit_id: VisitId,
    request: Request,
    session: DbSession,
    context: Context,
    principal: Office,
    filename: Annotated[str | None, Query(max_length=200)] = None,
) -> JSONResponse:
    """The same CSV or JSON as ``POST /v1/batches``, within the service's body limit (``max_body_bytes``: a
    day's recordings); 201 the batch (its requests carry ``mobile_visit_id``), the same file again 200."""
    await service.get_visit(session, context, visit_id)  # 404 before a body is read
    content_type = _content_type(request)
    if content_type in ("text/csv", "application/csv", "text/plain"):
        kind = "csv"
    elif content_type == "application/json":
        kind = "json"
    else:
        raise _unsupported(content_type)
    limit = context.settings.max_body_bytes
    upload = await batches.spool(request.stream(), format=kind, filename=filename, max_bytes=limit)
    try:
        batch, created = await service.upload_requests(session, context, principal, visit_id, upload)
    finally:
        upload.file.close()
    headers = {"Location": f"/v1/batches/{batch.id}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    body = batches.batch_out(batch).model_dump(mode="json")
    return JSONResponse(body, status_code=201 if created else 200, headers=headers)
