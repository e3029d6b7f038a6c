"""``/v1/batches``: upload a kecamatan batch (CSV as text/csv or multipart, or JSON), read its status and report."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from services.common.auth import Authorize, Principal, Role
from services.common.db import DbSession, ReadSession
from services.common.pagination import Page, PageParams
from services.common.problems import FieldError, Unprocessable, problem_responses
from services.request.batches import repository, review, service
from services.request.batches.schemas import BatchDecisionOut, BatchOut, BatchReport, DecisionsIn
from services.request.context import Context

__all__ = ["router"]

router = APIRouter(prefix="/v1/batches", tags=["batches"])

uploader = Authorize(Role.ADMIN, Role.OPERATOR, Role.CLERK)
reviewer = Authorize(Role.ADMIN, Role.OPERATOR)
_FORM_FIELD_BYTES = 64 * 1024


async def _file_chunks(upload: UploadFile) -> AsyncIterator[bytes]:
    while chunk := await upload.read(service.READ_CHUNK):
        yield chunk


@router.post(
    "",
    status_code=201,
    response_model=BatchOut,
    summary="Upload a batch (CSV or JSON); the same file again returns the same batch (200)",
    responses=problem_responses(400, 403, 409, 413, 422),
    openapi_extra={
        "requestBody": {
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
                },
                "application/json": {"schema": {"type": "object", "properties": {"rows": {"type": "array"}}}},
            }
        }
    },
)
async def create_batch(
    request: Request,
    session: DbSession,
    context: Context,
    principal: Annotated[Principal, Depends(uploader)],
    filename: Annotated[str | None, Query(max_length=200)] = None,
) -> JSONResponse:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    limit = context.settings.batch_max_bytes
    if content_type == "multipart/form-data":
        # One file part (spooled to disk by Starlette, within the route's body limit); other fields are small.
        async with request.form(max_files=1, max_fields=8, max_part_size=_FORM_FIELD_BYTES) as form:
            file = form.get("file")
            if not isinstance(file, UploadFile):
                raise Unprocessable.field("file", "a multipart field named file is required")
            name = file.filename or filename
            kind = "json" if (name or "").lower().endswith(".json") else "csv"
            upload = await service.spool(_file_chunks(file), format=kind, filename=name, max_bytes=limit)
    elif content_type in ("text/csv", "application/csv", "text/plain"):
        upload = await service.spool(request.stream(), format="csv", filename=filename, max_bytes=limit)
    elif content_type == "application/json":
        upload = await service.spool(request.stream(), format="json", filename=filename, max_bytes=limit)
    else:
        raise Unprocessable(
            f"unsupported content type {content_type or '(none)'}",
            kind="validation",
            errors=[FieldError(field="Content-Type", reason="text/csv, multipart/form-data or application/json")],
        )
    try:
        batch, created = await service.process(session, context, principal, upload)
    finally:
        upload.file.close()
    body = service.batch_out(batch).model_dump(mode="json")
    headers = {"Location": f"/v1/batches/{batch.id}"}
    if not created:
        headers["Idempotent-Replayed"] = "true"
    return JSONResponse(body, status_code=201 if created else 200, headers=headers)


@router.get("", response_model=Page[BatchOut], summary="List batches (a clerk sees its own)")
async def list_batches(
    session: ReadSession, principal: Annotated[Principal, Depends(uploader)], page: Annotated[PageParams, Depends()]
) -> Page[BatchOut]:
    mine = principal.subject if principal.role is Role.CLERK else None
    rows, total = await repository.list_batches(session, submitted_by=mine, limit=page.limit, offset=page.offset)
    return Page[BatchOut](items=[service.batch_out(b) for b in rows], total=total, limit=page.limit, offset=page.offset)


@router.get("/{batch_id}", response_model=BatchOut, summary="A batch's status and counts")
async def get_batch(
    batch_id: str, session: ReadSession, principal: Annotated[Principal, Depends(uploader)]
) -> BatchOut:
    return service.batch_out(await service.get_readable(session, principal, batch_id))


@router.get(
    "/{batch_id}/report",
    response_model=BatchReport,
    summary="The refused rows: row, field and reason (the first rows, up to batch_report_max_errors errors)",
)
async def get_batch_report(
    batch_id: str,
    session: ReadSession,
    principal: Annotated[Principal, Depends(uploader)],
    page: Annotated[PageParams, Depends()],
) -> BatchReport:
    batch = await service.get_readable(session, principal, batch_id)
    rows, total = await repository.errors(session, batch_id, limit=page.limit, offset=page.offset)
    decided, decided_total = await repository.decisions(session, batch_id, limit=page.limit, offset=page.offset)
    listed = await repository.listed_rows(session, batch_id)
    return BatchReport(
        batch=service.batch_out(batch),
        errors=[FieldError(row=e.row, field=e.field, reason=e.reason) for e in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
        listed_rows=listed,
        unlisted_rows=max(batch.rejected_rows - listed, 0),
        decisions=[BatchDecisionOut.model_validate(d, from_attributes=True) for d in decided],
        decisions_total=decided_total,
    )


@router.post(
    "/{batch_id}/decisions",
    response_model=BatchOut,
    summary='Decide a submitted proposal: {"approve": "all_valid"} or {"rows": [{row, decision, reason}]}',
    responses=problem_responses(403, 404, 409, 422),
)
async def decide_batch(
    batch_id: str,
    body: DecisionsIn,
    session: DbSession,
    context: Context,
    principal: Annotated[Principal, Depends(reviewer)],
) -> BatchOut:
    return service.batch_out(await review.decide(session, context, principal, batch_id, body))


@router.get(
    "/{batch_id}/decisions",
    response_model=Page[BatchDecisionOut],
    summary="The office's decisions on a proposal, by row: who decided what and when (a clerk reads its own)",
)
async def list_batch_decisions(
    batch_id: str,
    session: ReadSession,
    principal: Annotated[Principal, Depends(uploader)],
    page: Annotated[PageParams, Depends()],
) -> Page[BatchDecisionOut]:
    await service.get_readable(session, principal, batch_id)
    rows, total = await repository.decisions(session, batch_id, limit=page.limit, offset=page.offset)
    return Page[BatchDecisionOut](
        items=[BatchDecisionOut.model_validate(d, from_attributes=True) for d in rows],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )
