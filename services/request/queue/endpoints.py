"""``/v1/queue``: the printer gateway's calls (role service), the queue's stats and capacity."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from services.common.auth import Authorize, Principal, Role
from services.common.db import DbSession, ReadSession
from services.common.problems import problem_responses
from services.request.context import Context
from services.request.print_requests.schemas import RequestOut
from services.request.print_requests.views import to_out
from services.request.queue import capacity, service
from services.request.queue.claiming import claim_waiting
from services.request.queue.schemas import (
    CapacityIn,
    CapacityOut,
    Claim,
    ClaimIn,
    FailedIn,
    NeedsReviewIn,
    PrintedIn,
    QueueStats,
    RenewIn,
    SentIn,
)

__all__ = ["router"]

router = APIRouter(prefix="/v1/queue", tags=["queue"])

gateway = Authorize(Role.SERVICE)
watcher = Authorize(Role.SERVICE, Role.OPERATOR, Role.ADMIN)

Gateway = Annotated[Principal, Depends(gateway)]


@router.post(
    "/claims",
    status_code=201,
    response_model=Claim,
    summary="Claim the next request with a lease (optionally waiting for one: wait_seconds)",
    responses={
        200: {"model": Claim, "description": "the same job id again"},
        204: {"description": "nothing ready"},
        **problem_responses(403, 409, 422),
    },
)
async def create_claim(
    body: ClaimIn, request: Request, session: DbSession, context: Context, principal: Gateway
) -> Response:
    claim, created = await claim_waiting(session, context, principal, body, gone=request.is_disconnected)
    if claim is None:
        return Response(status_code=204)
    return JSONResponse(claim.model_dump(mode="json"), status_code=201 if created else 200)


@router.post("/claims/{job_id}/renew", response_model=Claim, responses=problem_responses(404, 409))
async def renew_claim(job_id: str, body: RenewIn, session: DbSession, context: Context, _: Gateway) -> Claim:
    return await service.renew(session, context, job_id, body)


@router.post("/claims/{job_id}/release", response_model=RequestOut, responses=problem_responses(404, 409))
async def release_claim(job_id: str, session: DbSession, context: Context, principal: Gateway) -> RequestOut:
    return to_out(await service.release(session, context, principal, job_id), context)


@router.post("/claims/{job_id}/sent", response_model=RequestOut, responses=problem_responses(404, 409))
async def report_sent(
    job_id: str, body: SentIn, session: DbSession, context: Context, principal: Gateway
) -> RequestOut:
    return to_out(await service.sent(session, context, principal, job_id, body), context)


@router.post("/claims/{job_id}/printed", response_model=RequestOut, responses=problem_responses(404, 409))
async def report_printed(
    job_id: str, body: PrintedIn, session: DbSession, context: Context, principal: Gateway
) -> RequestOut:
    return to_out(await service.printed(session, context, principal, job_id, body), context)


@router.post("/claims/{job_id}/failed", response_model=RequestOut, responses=problem_responses(404, 409))
async def report_failed(
    job_id: str, body: FailedIn, session: DbSession, context: Context, principal: Gateway
) -> RequestOut:
    return to_out(await service.failed(session, context, principal, job_id, body), context)


@router.post("/claims/{job_id}/needs-review", response_model=RequestOut, responses=problem_responses(404, 409))
async def report_needs_review(
    job_id: str, body: NeedsReviewIn, session: DbSession, context: Context, principal: Gateway
) -> RequestOut:
    return to_out(await service.needs_review(session, context, principal, job_id, body), context)


@router.get("/stats", response_model=QueueStats, summary="The backlog by class and state")
async def queue_stats(session: ReadSession, context: Context, _: Annotated[Principal, Depends(watcher)]) -> QueueStats:
    return await capacity.stats(session, context)


@router.put("/capacity", response_model=CapacityOut, summary="Set the throughput that estimated dates use")
async def put_capacity(
    body: CapacityIn, session: DbSession, context: Context, principal: Annotated[Principal, Depends(watcher)]
) -> CapacityOut:
    return await capacity.set_capacity(session, context, principal, body)
