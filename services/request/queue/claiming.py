"""A claim as the gateway asks for it (``POST /v1/queue/claims``): waiting for work, and a request whose images
do not open taken out of the queue.

*Waiting* (long polling): with nothing ready the claim waits up to ``wait_seconds`` for a request to be queued,
so an idle gateway makes one call every ``wait_seconds`` instead of polling.

*Images that do not open*: a queued request whose sealed photo or signature does not open (changed in the
database, or its data key left the keys file: privacy/keys.py) is not printed. The claim that found it answers
409 ``images-unreadable`` naming the request; ``hold_unreadable`` moves the request to ``needs_review`` in a
transaction of its own, so the next claim takes the next request instead of stopping every printer on this one.
On SQLite the claim was rolled back (the request is still queued); on PostgreSQL its one statement had committed
on its own (the request is printing under the claim's job): that job ends at once (``needs_review``, no lease),
and the same job id again is a stale job. An operator looks at it: cancel it, or resolve it ``not_printed``
once its images are mended (a new photo at the desk).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.db import commit, rollback
from services.common.problems import Problem
from services.request.context import ServiceContext
from services.request.models import PrintRequest, QueueJob
from services.request.print_requests.service import audit_state, set_status
from services.request.print_requests.states import RequestStatus
from services.request.print_requests.views import IMAGES_UNREADABLE
from services.request.queue.schemas import Claim, ClaimIn, JobState
from services.request.queue.service import claim

__all__ = ["claim_waiting", "hold_unreadable"]

DISCONNECT_CHECK_SECONDS = 1.0


async def claim_waiting(
    session: AsyncSession,
    context: ServiceContext,
    principal: Principal,
    body: ClaimIn,
    *,
    gone: Callable[[], Awaitable[bool]],
) -> tuple[Claim | None, bool]:
    """``claim``, and with nothing ready wait up to ``body.wait_seconds`` for a request to be queued.

    An idle gateway then makes one call every ``wait_seconds`` instead of polling, and a request queued meanwhile
    is claimed at once. Between looks the empty transaction is committed (SQLite's write lock is not held while
    waiting); a caller that hung up (``gone``) gets nothing, so no lease is given to nobody; when the service is
    stopping (``QueueSignal.close``) the claim answers at once.
    """
    loop = asyncio.get_running_loop()
    settings = context.settings
    deadline = loop.time() + min(body.wait_seconds, settings.max_claim_wait_seconds)
    signal = context.queue_signal
    while True:
        notice = signal.current()
        try:
            claimed, created = await claim(session, context, principal, body)
        except Problem as problem:
            if problem.kind != IMAGES_UNREADABLE:
                raise
            await rollback(session)
            await hold_unreadable(session, context, principal, problem, body.job_id)
            await commit(session)
            raise
        if claimed is not None or loop.time() >= deadline or signal.closed:
            return claimed, created
        await commit(session)
        look_again = min(deadline, loop.time() + settings.claim_recheck_seconds)
        signal.waiting += 1
        try:
            while (left := look_again - loop.time()) > 0:
                if await signal.wait(notice, min(left, DISCONNECT_CHECK_SECONDS)):
                    break
                if await gone():
                    return None, False
        finally:
            signal.waiting -= 1


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
