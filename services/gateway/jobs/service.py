"""Rules for an operator's hand on jobs: cancel one not yet sent, resolve one in review, fetch a card to preview.

``cancel`` takes the endpoint's session and only flushes (the dispatcher hears of it after the commit);
``resolve`` writes its audit row in a transaction of its own before the outcome goes to the peers, so the
trail shows who decided even if reporting is still under way when the answer is sent.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.db import after_commit
from services.common.problems import Conflict, NotFound, ServiceUnavailable
from services.gateway.audit import auditor
from services.gateway.dispatch.dispatcher import Dispatcher
from services.gateway.errors import PeerAnswer
from services.gateway.jobs.schemas import Resolution
from services.gateway.journal import repository
from services.gateway.journal.steps import PRE_SEND, JobState, Step
from services.gateway.models import Job

__all__ = ["RESOLVE_WAIT_S", "cancel", "request_card", "require", "resolve"]

# How long the operator's call waits for the peers to hear a resolution before answering 202.
RESOLVE_WAIT_S = 10.0


async def require(session: AsyncSession, job_id: str, *, with_journal: bool = False) -> Job:
    job = await repository.get_job(session, job_id, with_journal=with_journal)
    if job is None:
        raise NotFound(f"no job {job_id}", kind="job-not-found")
    return job


async def cancel(session: AsyncSession, principal: Principal, job_id: str, dispatcher: Dispatcher) -> Job:
    """Mark a job not yet sent for cancelling; its worker hands it back once this commits."""
    job = await require(session, job_id)
    if job.status != JobState.ACTIVE or Step(job.step) not in PRE_SEND:
        raise Conflict(
            f"job {job_id} is at {job.step} ({job.status}): only a job not yet sent can be cancelled",
            kind="job-already-sent",
        )
    job.cancel_requested = True
    auditor.record(session, principal, "job.cancel_requested", "job", job_id, after={"step": job.step})
    after_commit(session, lambda: dispatcher.cancel(job_id))
    return job


async def resolve(principal: Principal, job_id: str, body: Resolution, dispatcher: Dispatcher) -> tuple[Job, bool]:
    """Report what came out of a job in review; ``(job, done)`` — not done when a peer is slow (the journal
    finishes it)."""
    gw = dispatcher.gw
    async with gw.db.sessions.begin() as session:
        job = await require(session, job_id)
        if job.step != Step.REVIEW:
            raise Conflict(f"job {job_id} is at {job.step}, not in review", kind="job-not-in-review")
        auditor.record(
            session, principal, "job.resolved", "job", job_id, before={"step": job.step}, after=body.model_dump()
        )
    steps = dispatcher.steps
    detail = {"resolved_by": principal.subject, "note": body.note}
    if body.outcome == "printed":
        work = steps.report_printed(job, body.card_serial or "", detail=detail)
    else:
        # A serial given with not_printed names a blank that was used and spoiled (e.g. in the reject box).
        work = steps.report_failed(job, body.note or "operator: not printed", serial=body.card_serial, detail=detail)
    task = asyncio.ensure_future(work)
    done, _pending = await asyncio.wait({task}, timeout=RESOLVE_WAIT_S)
    if done:
        task.result()
    fresh = await gw.journal.get(job_id)
    return fresh or job, bool(done)


async def request_card(dispatcher: Dispatcher, principal: Principal, request_id: str) -> dict[str, Any]:
    """A request's card data, asked of the request service (404 if it has no such request), saying who looks
    and why: the request service keeps an access log of every look at a resident's record."""
    purpose = f"card preview by {principal.subject}"
    try:
        body = await dispatcher.gw.requests.get_request(request_id, purpose=purpose)
    except PeerAnswer as exc:
        if exc.status in (404, 422):  # 422: not even the shape of a request id
            raise NotFound(f"no request {request_id}", kind="request-not-found") from None
        raise ServiceUnavailable(f"the request service answered {exc.status}", kind="peer-refused") from None
    except Exception:
        raise ServiceUnavailable("the request service does not answer", kind="peer-unavailable") from None
    nested = body.get("card")
    return nested if isinstance(nested, dict) else body
