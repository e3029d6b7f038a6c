"""``/v1/requests``: submit, list, read, cancel, resolve, activate, hand over."""

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Header, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from services.common.audit import AuditEventOut
from services.common.auth import Authorize, Principal, Role
from services.common.db import DbSession, ReadSession
from services.common.idempotency import fingerprint
from services.common.pagination import Page, PageParams
from services.common.problems import Conflict, Forbidden, NotFound, problem_responses
from services.request.context import Context
from services.request.partners import service as partners
from services.request.print_requests import repository, service, views
from services.request.print_requests.schemas import (
    ActivateIn,
    Channel,
    HandoverIn,
    Priority,
    QueueView,
    Reason,
    RequestIn,
    RequestOut,
    ResolveIn,
)
from services.request.print_requests.states import RequestStatus
from services.request.privacy.access import AccessAction, Looking, Purpose, record_access, require_purpose
from services.request.queue import capacity
from services.request.sukets import service as sukets

__all__ = ["router"]

router = APIRouter(prefix="/v1/requests", tags=["requests"])

submitter = Authorize(Role.ADMIN, Role.OPERATOR, Role.CLERK, Role.PARTNER)
reader = Authorize(Role.ADMIN, Role.OPERATOR, Role.CLERK, Role.PARTNER, Role.SERVICE)
canceller = Authorize(Role.ADMIN, Role.OPERATOR, Role.CLERK, Role.PARTNER)
desk = Authorize(Role.ADMIN, Role.OPERATOR)


class CancelIn(BaseModel):
    note: Annotated[str | None, Field(max_length=300)] = None


@router.post(
    "",
    status_code=201,
    response_model=RequestOut,
    summary="Submit a print request",
    responses=problem_responses(401, 403, 409, 422),
)
async def create_request(
    body: RequestIn,
    request: Request,
    session: DbSession,
    context: Context,
    principal: Annotated[Principal, Depends(submitter)],
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> Response:
    """Validated on entry and queued at once; a replay with the same ``Idempotency-Key`` gets the first answer.

    The answer's ``queue`` is null here (counting the queue ahead is not free); ``GET /v1/requests/{id}`` has it.
    """
    fp = ""
    service.may_submit(principal, body)  # before a replay: a stored answer is only for whoever may ask again
    partners.check_submission(request, principal, body.reason, body.kecamatan_code)  # what the office allowed it
    if idempotency_key is not None:
        fp = fingerprint("POST", request.url.path, body.model_dump(mode="json"))
        if replay := await context.idempotency.replay(session, principal, idempotency_key, fp):
            return replay
    # Without a key to remember, the submission is the transaction's only write (one statement on PostgreSQL).
    created = await service.create(session, context, principal, body, alone=idempotency_key is None)
    out = views.to_out(created, context)
    headers = {"Location": f"/v1/requests/{created['id']}"}
    if idempotency_key is None:  # pydantic writes the JSON itself: no dict of the body in between
        return Response(out.model_dump_json(), status_code=201, headers=headers, media_type="application/json")
    content = out.model_dump(mode="json")
    return await context.idempotency.remember(session, principal, idempotency_key, fp, 201, content, headers=headers)


@router.get("", response_model=Page[RequestOut], summary="List requests (filters; clerks see their kecamatan)")
async def list_requests(
    sessions: Looking,
    context: Context,
    principal: Annotated[Principal, Depends(reader)],
    page: Annotated[PageParams, Depends()],
    purpose: Purpose,
    status: RequestStatus | None = None,
    kecamatan: Annotated[str | None, Query(pattern=r"^\d{2}\.\d{2}\.\d{2}$")] = None,
    reason: Reason | None = None,
    channel: Channel | None = None,
    priority: Priority | None = None,
    nik: Annotated[str | None, Query(pattern=r"^\d{16}$")] = None,
    batch_id: str | None = None,
    mobile_visit_id: str | None = None,
) -> Page[RequestOut]:
    """Every listed request is a look at its resident (access rows ``list``); a NIK search (``search``) must say
    why: ``purpose`` or the ``X-Access-Purpose`` header, else 422 naming ``purpose``."""
    if nik is not None and principal.role not in (Role.ADMIN, Role.OPERATOR):
        raise Forbidden("only operators search by NIK", kind="nik-search-forbidden")
    if nik is not None:
        require_purpose(purpose, "a NIK search")
    codes: frozenset[str] | None = frozenset({kecamatan}) if kecamatan else None
    if principal.role is Role.CLERK:
        if codes is not None and not codes <= principal.scope:
            raise Forbidden(f"kecamatan {kecamatan} is outside your scope", kind="out-of-scope")
        codes = codes or principal.scope
    filters = repository.RequestFilters(
        status=status.value if status else None,
        kecamatan_codes=codes,
        reason=reason.value if reason else None,
        channel=channel.value if channel else None,
        priority=priority.value if priority else None,
        nik=nik,
        batch_id=batch_id,
        submitted_by=principal.subject if principal.role is Role.PARTNER else None,
        mobile_visit_id=mobile_visit_id,
    )
    rows, total = await repository.list_requests(sessions.read, filters, limit=page.limit, offset=page.offset)
    if rows or nik is not None:  # an empty page shows nobody; an empty search still looked a NIK up
        action = AccessAction.SEARCH if nik is not None else AccessAction.LIST
        shown = [(r.id, r.nik) for r in rows]
        await record_access(
            sessions.record, principal, action, requests=shown, nik=nik, purpose=purpose, at=context.clock()
        )
    return Page[RequestOut](
        items=[views.to_out(r, context) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/{request_id}", response_model=RequestOut, summary="A request, with its queue position and date")
async def get_request(
    request_id: str,
    sessions: Looking,
    context: Context,
    principal: Annotated[Principal, Depends(reader)],
    purpose: Purpose,
) -> RequestOut:
    """A look at the resident (access row ``view``, with the caller's ``purpose`` if given)."""
    found = await repository.get(sessions.read, request_id)
    if found is None:
        raise NotFound(f"no request {request_id}", kind="request-not-found")
    service.readable(principal, found)
    out = views.to_out(found, context, await capacity.queue_view(sessions.read, context, found))
    out.suket = await sukets.summary(sessions.read, context, found.id)
    await record_access(
        sessions.record, principal, AccessAction.VIEW, requests=[(found.id, found.nik)], purpose=purpose,
        at=context.clock(),
    )  # fmt: skip
    return out


@router.get(
    "/{request_id}/queue",
    response_model=QueueView,
    summary="Position in the queue and estimated print date",
    responses=problem_responses(404, 409),
)
async def get_queue_position(
    request_id: str, session: ReadSession, context: Context, principal: Annotated[Principal, Depends(reader)]
) -> QueueView:
    found = await repository.get(session, request_id)
    if found is None:
        raise NotFound(f"no request {request_id}", kind="request-not-found")
    service.readable(principal, found)
    view = await capacity.queue_view(session, context, found)
    if view is None:
        raise Conflict(f"the request is {found.status}, not queued", kind="not-queued")
    return view


@router.get(
    "/{request_id}/history",
    response_model=list[AuditEventOut],
    summary="What happened to a request, oldest first: who changed its status, and when",
    responses=problem_responses(403, 404),
)
async def get_request_history(
    request_id: str, session: ReadSession, principal: Annotated[Principal, Depends(reader)]
) -> list[AuditEventOut]:
    """The request's audit rows (they hold its status, attempts, job and serial: never the NIK or images), for
    whoever may read the request: the desk's timeline, without the admin's whole audit trail."""
    found = await repository.get(session, request_id)
    if found is None:
        raise NotFound(f"no request {request_id}", kind="request-not-found")
    service.readable(principal, found)
    return [AuditEventOut.model_validate(row) for row in await repository.history(session, request_id)]


@router.post("/{request_id}/cancel", response_model=RequestOut, summary="Cancel a queued request")
async def cancel_request(
    request_id: str,
    session: DbSession,
    context: Context,
    principal: Annotated[Principal, Depends(canceller)],
    body: Annotated[CancelIn | None, Body()] = None,
) -> RequestOut:
    changed = await service.cancel(session, context, principal, request_id, body.note if body else None)
    return views.to_out(changed, context)


@router.post("/{request_id}/resolve", response_model=RequestOut, summary="Resolve a needs_review request")
async def resolve_request(
    request_id: str,
    body: ResolveIn,
    session: DbSession,
    context: Context,
    principal: Annotated[Principal, Depends(desk)],
) -> RequestOut:
    changed = await service.resolve(session, context, principal, request_id, body)
    return views.to_out(changed, context, await capacity.queue_view(session, context, changed))


@router.post("/{request_id}/activate", response_model=RequestOut, summary="Activate a printed card")
async def activate_request(
    request_id: str,
    body: ActivateIn,
    session: DbSession,
    context: Context,
    principal: Annotated[Principal, Depends(desk)],
) -> RequestOut:
    return views.to_out(await service.activate(session, context, principal, request_id, body), context)


@router.post("/{request_id}/handover", response_model=RequestOut, summary="Record the card's handover")
async def handover_request(
    request_id: str,
    body: HandoverIn,
    session: DbSession,
    context: Context,
    principal: Annotated[Principal, Depends(desk)],
) -> RequestOut:
    return views.to_out(await service.handover(session, context, principal, request_id, body), context)
