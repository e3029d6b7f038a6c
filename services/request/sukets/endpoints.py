"""``/v1/sukets``: issue a Suket for a waiting resident, its PDF, its withdrawal, the register and its export,
and the public verification page its QR code opens."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import html
import io
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from services.common.audit import csv_cell
from services.common.auth import Authorize, Principal, Role
from services.common.db import DbSession, ReadSession
from services.common.idempotency import fingerprint
from services.common.pagination import Page, PageParams, paginate
from services.common.problems import Conflict, problem_responses
from services.request.context import Context, ServiceContext
from services.request.print_requests import repository as requests
from services.request.print_requests.views import card_data, images_unreadable, open_images
from services.request.privacy.access import AccessAction, Looking, Purpose, record_access
from services.request.privacy.keys import SealedDataError
from services.request.sukets import pdf, repository, service
from services.request.sukets.lifecycle import effective_status
from services.request.sukets.models import Suket
from services.request.sukets.schemas import SuketCancelIn, SuketOut, SuketStatus, SuketVerification

__all__ = ["VERIFY_PATH", "router"]

router = APIRouter(tags=["sukets"])
Desk = Annotated[Principal, Depends(Authorize(Role.ADMIN, Role.OPERATOR))]
VERIFY_PATH = service.VERIFY_PREFIX + "{code}"  # public: the QR code's page
Kecamatan = Annotated[str | None, Query(pattern=r"^\d{2}\.\d{2}\.\d{2}$")]
CSV_FIELDS = ("number", "status", "request_id", "kecamatan_code", "issued_on", "valid_until", "issued_by",
              "withdrawn_at", "withdrawn_by", "withdrawal_reason")  # fmt: skip


def public_base(context: ServiceContext, request: Request) -> str:
    """The address the QR code points at: ``public_url``, else the one this call came in on."""
    return context.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")


@router.post("/v1/requests/{request_id}/suket", status_code=201, response_model=SuketOut,
             summary="Issue a Suket (surat keterangan pengganti KTP-el) for a resident waiting for the card",
             responses=problem_responses(404, 409))  # fmt: skip
async def issue_suket(
    request_id: str,
    request: Request,
    session: DbSession,
    context: Context,
    principal: Desk,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    """For a request queued, printing or in review; 409 ``suket-not-issuable`` once its card is printed or it
    ended, 409 ``suket-exists`` while the resident holds a valid one (named in the problem)."""
    fp = fingerprint("POST", request.url.path, b"")
    if replay := await context.idempotency.replay(session, principal, idempotency_key, fp):
        return replay
    suket = await service.issue(session, context, principal, request_id)
    content = service.to_out(suket, context, public_base(context, request)).model_dump(mode="json")
    headers = {"Location": f"/v1/sukets/{suket.id}"}
    if idempotency_key is None:
        return JSONResponse(content, status_code=201, headers=headers)
    return await context.idempotency.remember(session, principal, idempotency_key, fp, 201, content, headers=headers)


@router.get(VERIFY_PATH, response_model=SuketVerification, responses={200: {"content": {"text/html": {}}}},
            summary="Verify a Suket by the code its QR code holds (public: no token)")  # fmt: skip
async def verify_suket(
    code: Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{16,64}$")],
    session: ReadSession,
    context: Context,
    accept: Annotated[str, Header(include_in_schema=False)] = "",
) -> Response:
    """Whether it stands (valid, withdrawn, expired), its number, dates and the masked name: nothing else. A
    browser (``Accept: text/html``) gets the same as a small page. 404 for an unknown code."""
    found = await service.verification(session, context, code)
    headers = {"Cache-Control": "no-store", "X-Robots-Tag": "noindex"}
    if "text/html" in accept:
        return HTMLResponse(_page(found), headers=headers)
    return JSONResponse(found.model_dump(mode="json"), headers=headers)


@router.get("/v1/sukets", response_model=Page[SuketOut], summary="The Suket register, newest first")
async def list_sukets(
    request: Request,
    session: ReadSession,
    context: Context,
    _: Desk,
    page: Annotated[PageParams, Depends()],
    status: SuketStatus | None = None,
    kecamatan: Kecamatan = None,
    issued_from: dt.date | None = None,
    issued_to: dt.date | None = None,
) -> Page[SuketOut]:
    query = repository.filtered(repository.SuketFilters(status, kecamatan, issued_from, issued_to), context.today())
    rows, total = await paginate(
        session, query, Suket.issued_at.desc(), Suket.seq.desc(), limit=page.limit, offset=page.offset
    )
    base = public_base(context, request)
    return Page[SuketOut](
        items=[service.to_out(s, context, base) for s in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/v1/sukets/export.csv", response_class=Response, responses={200: {"content": {"text/csv": {}}}},
            summary="The Suket register as CSV (the list's filters), in register order")  # fmt: skip
async def export_sukets(
    session: ReadSession,
    context: Context,
    _: Desk,
    status: SuketStatus | None = None,
    kecamatan: Kecamatan = None,
    issued_from: dt.date | None = None,
    issued_to: dt.date | None = None,
) -> Response:
    today = context.today()
    query = repository.filtered(repository.SuketFilters(status, kecamatan, issued_from, issued_to), today)
    rows = (await session.scalars(query.order_by(Suket.year, Suket.seq))).all()
    return Response(
        _csv(rows, today),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="sukets.csv"'},
    )


@router.get("/v1/sukets/{suket_id}.pdf", response_class=Response, responses={200: {"content": {"application/pdf": {}}},
            **problem_responses(404, 409)}, summary="A valid Suket as an A4 PDF, to print and sign")  # fmt: skip
async def suket_pdf(
    suket_id: str, request: Request, sessions: Looking, context: Context, principal: Desk, purpose: Purpose
) -> Response:
    """A look at the resident (access row ``view``). 409 ``suket-not-valid`` for one withdrawn or expired: it is
    never printed again."""
    suket = await service.get(sessions.read, suket_id)
    status = effective_status(suket, context.today())
    if status is not SuketStatus.VALID:
        raise Conflict(f"Suket {suket.number} is {status.value}: it is not printed", kind="suket-not-valid")
    found = await requests.get(sessions.read, suket.request_id)
    if found is None:  # pragma: no cover - the foreign key
        raise Conflict("the Suket's request is gone", kind="suket-not-valid")
    try:
        photo, _ = open_images(found, context)
    except SealedDataError as exc:
        raise images_unreadable(exc) from None
    url = service.verification_url(public_base(context, request), suket)
    document = pdf.document(suket, card_data(found, context), photo, timezone=context.timezone, url=url,
                            regency=context.catalog.regency_name)  # fmt: skip
    body = await asyncio.to_thread(pdf.render, document)
    await record_access(sessions.record, principal, AccessAction.VIEW, requests=[(found.id, found.nik)],
                        purpose=purpose or f"Suket {suket.number}", at=context.clock())  # fmt: skip
    filename = f"suket-{suket.year}-{suket.seq:04d}.pdf"
    headers = {"Content-Disposition": f'inline; filename="{filename}"', "Cache-Control": "no-store"}
    return Response(body, media_type="application/pdf", headers=headers)


@router.get("/v1/sukets/{suket_id}", response_model=SuketOut, summary="A Suket", responses=problem_responses(404))
async def get_suket(suket_id: str, request: Request, session: ReadSession, context: Context, _: Desk) -> SuketOut:
    return service.to_out(await service.get(session, suket_id), context, public_base(context, request))


@router.post("/v1/sukets/{suket_id}/cancel", response_model=SuketOut, summary="Withdraw a valid Suket (a reason)",
             responses=problem_responses(404, 409))  # fmt: skip
async def cancel_suket(
    suket_id: str, body: SuketCancelIn, request: Request, session: DbSession, context: Context, principal: Desk
) -> SuketOut:
    suket = await service.cancel(session, context, principal, suket_id, body.reason)
    return service.to_out(suket, context, public_base(context, request))


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, str):
        return csv_cell(value)  # a value starting with = + - @ is never a spreadsheet formula
    return value.isoformat() if isinstance(value, dt.date) else value  # a datetime is a date too


def _csv(rows: Sequence[Suket], today: dt.date) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_FIELDS)
    for suket in rows:
        values = {name: getattr(suket, name) for name in CSV_FIELDS} | {"status": effective_status(suket, today).value}
        writer.writerow(_cell(value) for value in values.values())
    return out.getvalue()


def _page(found: SuketVerification) -> str:
    label = {"valid": "BERLAKU", "withdrawn": "DITARIK", "expired": "KEDALUWARSA"}[found.status.value]
    rows = [("Nomor", found.number), ("Nama", found.name), ("Tanggal terbit", found.issued_on.isoformat()),
            ("Berlaku sampai", found.valid_until.isoformat())]  # fmt: skip
    cells = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return (
        '<!doctype html><html lang="id"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Verifikasi Surat Keterangan Pengganti KTP-el</title></head><body>"
        f"<h1>Surat Keterangan Pengganti KTP-el: {label}</h1><table>{cells}</table></body></html>"
    )
