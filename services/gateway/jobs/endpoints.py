"""``/v1/jobs`` and the previews (operator, admin)."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from fastapi import Path as FastAPIPath

from services.common.auth import Authorize, Principal, Role
from services.common.db import DbSession, ReadSession
from services.common.pagination import Page, PageParams
from services.common.problems import Conflict
from services.gateway.dispatch.dispatcher import DispatcherDep
from services.gateway.jobs import service
from services.gateway.jobs.schemas import JobDetail, JobOut, Resolution
from services.gateway.journal import repository
from services.gateway.journal.steps import OUTCOME_TOLD, JobState, Step
from services.gateway.rendering import render_png

__all__ = ["router"]

router = APIRouter(tags=["jobs"])
manage = Authorize(Role.ADMIN, Role.OPERATOR)
Manager = Annotated[Principal, Depends(manage)]
IMAGES_HEADER = "X-Card-Images"
PNG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}}, "description": "The card front, 1016 × 648 px at 300 dpi"}
}


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
    return JobDetail.model_validate(await service.require(session, job_id, with_journal=True))


@router.get("/v1/jobs/{job_id}/preview.png", response_class=Response, responses=PNG, summary="The job's card")
async def job_preview(job_id: str, session: ReadSession, _: Manager) -> Response:
    """The card as the job holds it. Once its outcome was reported the gateway keeps no photo nor signature:
    the card is drawn without them and the answer says so (``X-Card-Images: removed``)."""
    job = await service.require(session, job_id)
    if not job.card:
        raise Conflict("this job has no card data (nothing was claimed)", kind="job-without-card")
    png = await asyncio.to_thread(render_png, job.card)
    headers = {IMAGES_HEADER: "removed"} if Step(job.step) in OUTCOME_TOLD else {}
    return Response(png, media_type="image/png", headers=headers)


@router.get("/v1/requests/{request_id}/preview.png", response_class=Response, responses=PNG, summary="A request's card")
async def request_preview(
    request_id: Annotated[str, FastAPIPath(pattern=r"^[A-Za-z0-9_.:-]{1,100}$")],
    principal: Manager,
    dispatcher: DispatcherDep,
) -> Response:
    card = await service.request_card(dispatcher, principal, request_id)
    png = await asyncio.to_thread(render_png, card)
    return Response(png, media_type="image/png")


@router.post("/v1/jobs/{job_id}/cancel", response_model=JobOut, status_code=202, summary="Cancel a job not yet sent")
async def cancel_job(job_id: str, session: DbSession, principal: Manager, dispatcher: DispatcherDep) -> JobOut:
    return JobOut.model_validate(await service.cancel(session, principal, job_id, dispatcher))


@router.post("/v1/jobs/{job_id}/resolve", response_model=JobOut, summary="Say what came out of a job in review")
async def resolve_job(
    job_id: str, body: Resolution, principal: Manager, dispatcher: DispatcherDep, response: Response
) -> JobOut:
    job, done = await service.resolve(principal, job_id, body, dispatcher)
    if not done:
        response.status_code = 202  # a peer is slow: the journal finishes it
    return JobOut.model_validate(job)
