"""``/v1/jobs`` and the previews (operator, admin)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi import Path as FastAPIPath

from services.common.audit import Auditor
from services.common.auth import Authorize, Principal, Role
from services.common.db import DbSession, ReadSession
from services.common.pagination import Page, PageParams
from services.common.problems import Conflict, NotFound, ServiceUnavailable
from services.gateway.dispatch.runtime import DispatcherDep
from services.gateway.errors import PeerAnswer
from services.gateway.jobs.schemas import JobDetail, JobOut, Resolution
from services.gateway.journal import repository
from services.gateway.journal.steps import PRE_SEND, JobState, Step
from services.gateway.models import AuditEvent, Job
from services.gateway.rendering import render_png

__all__ = ["router"]

router = APIRouter(tags=["jobs"])
manage = Authorize(Role.ADMIN, Role.OPERATOR)
auditor = Auditor(AuditEvent)
Manager = Annotated[Principal, Depends(manage)]
PNG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}}, "description": "The card front, 1016 × 648 px at 300 dpi"}
}
RESOLVE_WAIT_S = 10.0


async def _job(session: ReadSession | DbSession, job_id: str, *, with_journal: bool = False) -> Job:
    job = await repository.get_job(session, job_id, with_journal=with_journal)
    if job is None:
        raise NotFound(f"no job {job_id}", kind="job-not-found")
    return job


@router.get("/v1/jobs", response_model=Page[JobOut], summary="Jobs, newest first, filtered")
async def list_jobs(
    session: ReadSession,
    _: Manager,
    page: Annotated[PageParams, Depends()],
    status: Annotated[JobState | None, Query()] = None,
    step: Annotated[Step | None, Query()] = None,
    printer_id: str | None = None,
    request_id: str | None = None,
) -> Page[JobOut]:
    filters = {"printer_id": printer_id, "status": status, "step": step, "request_id": request_id}
    jobs, total = await repository.list_jobs(session, **filters, limit=page.limit, offset=page.offset)
    return Page[JobOut](
        items=[JobOut.model_validate(j) for j in jobs], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/v1/jobs/{job_id}", response_model=JobDetail, summary="A job with its journal")
async def get_job(job_id: str, session: ReadSession, _: Manager) -> JobDetail:
    return JobDetail.model_validate(await _job(session, job_id, with_journal=True))


@router.get("/v1/jobs/{job_id}/preview.png", response_class=Response, responses=PNG, summary="The job's card")
async def job_preview(job_id: str, session: ReadSession, _: Manager) -> Response:
    job = await _job(session, job_id)
    if not job.card:
        raise Conflict("this job has no card data (nothing was claimed)", kind="job-without-card")
    png = await asyncio.to_thread(render_png, job.card)
    return Response(png, media_type="image/png")


@router.get("/v1/requests/{request_id}/preview.png", response_class=Response, responses=PNG, summary="A request's card")
async def request_preview(
    request_id: Annotated[str, FastAPIPath(pattern=r"^[A-Za-z0-9_.:-]{1,100}$")], _: Manager, dispatcher: DispatcherDep
) -> Response:
    try:
        body = await dispatcher.gw.requests.get_request(request_id)
    except PeerAnswer as exc:
        if exc.status in (404, 422):  # 422: not even the shape of a request id
            raise NotFound(f"no request {request_id}", kind="request-not-found") from None
        raise ServiceUnavailable(f"the request service answered {exc.status}", kind="peer-refused") from None
    except Exception:
        raise ServiceUnavailable("the request service does not answer", kind="peer-unavailable") from None
    nested = body.get("card")
    card: dict[str, Any] = nested if isinstance(nested, dict) else body
    png = await asyncio.to_thread(render_png, card)
    return Response(png, media_type="image/png")


@router.post("/v1/jobs/{job_id}/cancel", response_model=JobOut, status_code=202, summary="Cancel a job not yet sent")
async def cancel_job(job_id: str, session: DbSession, principal: Manager, dispatcher: DispatcherDep) -> JobOut:
    job = await _job(session, job_id)
    if job.status != JobState.ACTIVE or Step(job.step) not in PRE_SEND:
        raise Conflict(
            f"job {job_id} is at {job.step} ({job.status}): only a job not yet sent can be cancelled",
            kind="job-already-sent",
        )
    job.cancel_requested = True
    auditor.record(session, principal, "job.cancel_requested", "job", job_id, after={"step": job.step})
    await session.commit()
    dispatcher.cancel(job_id)
    return JobOut.model_validate(job)


@router.post("/v1/jobs/{job_id}/resolve", response_model=JobOut, summary="Say what came out of a job in review")
async def resolve_job(
    job_id: str, body: Resolution, session: DbSession, principal: Manager, dispatcher: DispatcherDep, response: Response
) -> JobOut:
    job = await _job(session, job_id)
    if job.step != Step.REVIEW:
        raise Conflict(f"job {job_id} is at {job.step}, not in review", kind="job-not-in-review")
    auditor.record(
        session, principal, "job.resolved", "job", job_id, before={"step": job.step}, after=body.model_dump()
    )
    await session.commit()
    steps = dispatcher.steps
    detail = {"resolved_by": principal.subject, "note": body.note}
    if body.outcome == "printed":
        work = steps.report_printed(job, body.card_serial or "", detail=detail)
    else:
        # A serial given with not_printed names a blank that was used and spoiled (e.g. in the reject box).
        work = steps.report_failed(job, body.note or "operator: not printed", serial=body.card_serial, detail=detail)
    task = asyncio.ensure_future(work)
    done, _pending = await asyncio.wait({task}, timeout=RESOLVE_WAIT_S)
    if not done:
        response.status_code = 202  # a peer is slow: the journal finishes it
    else:
        task.result()
    fresh = await dispatcher.gw.journal.get(job_id)
    return JobOut.model_validate(fresh or job)
