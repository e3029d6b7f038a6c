"""A queued request whose sealed photo or signature does not open is taken out of the queue, not printed.

Opening fails only when the row was changed in the database or its data key left the keys file
(privacy/keys.py). The claim that found it answers 409 ``images-unreadable`` naming the request; this moves the
request to ``needs_review`` in a transaction of its own, so the next claim takes the next request instead of
stopping every printer on this one. On SQLite the claim was rolled back (the request is still queued); on
PostgreSQL its one statement had committed on its own (the request is printing under the claim's job): that
job ends at once (``needs_review``, no lease), and the same job id again is a stale job. An operator looks at it: cancel
it, or resolve it ``not_printed`` once its images are mended (a new photo at the desk).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.problems import Problem
from services.request.context import ServiceContext
from services.request.models import PrintRequest, QueueJob
from services.request.print_requests.service import audit_state, set_status
from services.request.print_requests.states import RequestStatus
from services.request.queue.schemas import JobState

__all__ = ["hold_unreadable"]


async def hold_unreadable(
    session: AsyncSession, context: ServiceContext, principal: Principal, problem: Problem, job_id: str
) -> None:
    """``problem`` (``images-unreadable``) names the request, claimed or not by ``job_id``: → needs_review."""
    request = await session.get(PrintRequest, problem.extensions["request_id"], with_for_update=True)
    if request is None:
        return
    claimed = request.status == RequestStatus.PRINTING.value and request.job_id == job_id
    if not claimed and request.status != RequestStatus.QUEUED.value:
        return
    before = audit_state(request)
    now = context.clock()
    fields = ", ".join(error.field for error in problem.errors or ())
    set_status(request, RequestStatus.NEEDS_REVIEW, now, f"stored {fields} does not open: not printed")
    if claimed:
        request.lease_expires_at = None
        job = await session.get(QueueJob, job_id, with_for_update=True)
        if job is not None:
            job.state, job.finished_at, job.reason = JobState.NEEDS_REVIEW.value, now, "images-unreadable"
    await session.flush()
    context.auditor.record(
        session,
        principal,
        "queue.images_unreadable",
        "print_request",
        request.id,
        before=before,
        after=audit_state(request),
    )
