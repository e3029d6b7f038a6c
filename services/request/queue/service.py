"""Rules of the queue: exclusive claims with leases, the gateway's reports (idempotent by job id), expiry.

A job *holds* its request while the request is ``printing`` with that job id. Reports from a job that no
longer holds its request get 409 ``stale-job``, except ``printed``/``failed`` for a request in
``needs_review`` whose last job is that job (the gateway's crash recovery resolving it).
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal, Role
from services.common.problems import Conflict, NotFound
from services.common.states import check_transition
from services.request.autocommit import alone_connection
from services.request.cards import service as cards
from services.request.context import ServiceContext
from services.request.models import PrintRequest, QueueJob
from services.request.print_requests import repository as request_repository
from services.request.print_requests.service import audit_state, set_status
from services.request.print_requests.states import TRANSITIONS, RequestStatus
from services.request.print_requests.views import RequestLike, as_row, card_data
from services.request.privacy.access import AccessAction, record_access
from services.request.queue import repository
from services.request.queue.schemas import (
    Claim,
    ClaimIn,
    FailedIn,
    JobState,
    NeedsReviewIn,
    PrintedIn,
    RenewIn,
    SentIn,
)

__all__ = [
    "SWEEPER",
    "claim",
    "failed",
    "needs_review",
    "printed",
    "release",
    "renew",
    "sent",
    "sweep_expired_leases",
]

log = logging.getLogger(__name__)

SWEEPER = Principal(subject="lease-sweeper", role=Role.SERVICE)


def _claim(request: RequestLike, job: QueueJob, context: ServiceContext) -> Claim:
    return _claim_of(request, job.job_id, job.printer_id, job.lease_expires_at, context)


def _claim_of(
    request: RequestLike, job_id: str, printer_id: str, lease_expires_at: dt.datetime, context: ServiceContext
) -> Claim:
    row = as_row(request)
    return Claim.model_validate(
        {
            "job_id": job_id,
            "request_id": row.id,
            "printer_id": printer_id,
            "priority": row.priority,
            "reason": row.reason,
            "attempts": row.attempts,
            "lease_expires_at": lease_expires_at,
            "card": card_data(row, context, images=True),
        }
    )


def _lease(context: ServiceContext, seconds: float | None) -> dt.timedelta:
    settings = context.settings
    return dt.timedelta(seconds=min(seconds or settings.default_lease_seconds, settings.max_lease_seconds))


def _holds(job: QueueJob, request: PrintRequest) -> bool:
    return request.job_id == job.job_id and request.status == RequestStatus.PRINTING.value


def _stale(job: QueueJob, request: PrintRequest) -> Conflict:
    return Conflict(
        f"job {job.job_id} no longer holds request {request.id} (now {request.status})",
        kind="stale-job",
        request_id=request.id,
        status_now=request.status,
    )


async def _job_and_request(session: AsyncSession, job_id: str) -> tuple[QueueJob, PrintRequest]:
    job = await repository.get_job(session, job_id, for_update=True)
    if job is None:
        raise NotFound(f"no job {job_id}", kind="job-not-found")
    request = await request_repository.get(session, job.request_id, for_update=True)
    if request is None:  # pragma: no cover - foreign key
        raise NotFound(f"no request {job.request_id}", kind="request-not-found")
    return job, request


def _audit(
    context: ServiceContext,
    session: AsyncSession,
    principal: Principal,
    action: str,
    request: PrintRequest,
    before: dict[str, object],
) -> None:
    context.auditor.record(
        session, principal, action, "print_request", request.id, before=before, after=audit_state(request)
    )


async def _replay(session: AsyncSession, context: ServiceContext, job: QueueJob) -> tuple[Claim, bool]:
    """The same job id again: the same claim (200), or 409 when the job no longer holds its request."""
    request = await request_repository.get(session, job.request_id)
    if request is None or not _holds(job, request):
        raise Conflict(f"job {job.job_id} no longer holds a request", kind="stale-job")
    return _claim(request, job, context), False


async def claim(
    session: AsyncSession, context: ServiceContext, principal: Principal, body: ClaimIn
) -> tuple[Claim | None, bool]:
    """``(claim, created)``: the next request leased to ``job_id``; the same job again gets the same claim.

    A new claim carries the card with photo and signature: its access row (``claim``, why: the job and printer)
    goes in the same statement on PostgreSQL, one INSERT more elsewhere; a replay is covered by that row."""
    now = context.clock()
    purpose = f"printing: job {body.job_id} on printer {body.printer_id}"[:200]
    expires = now + _lease(context, body.lease_seconds)
    check_transition(TRANSITIONS, RequestStatus.QUEUED, RequestStatus.PRINTING, thing="request")
    # PostgreSQL: one statement claims (request, job, audit and access rows), unless the job id exists; only then,
    # or with nothing queued, a second look. The claim is the transaction's only write, so it needs no BEGIN/COMMIT.
    connection = await alone_connection(session) or await session.connection()
    if connection.dialect.name == "postgresql":
        try:
            claimed = await repository.claim_next_in_one_statement(
                session,
                job_id=body.job_id,
                printer_id=body.printer_id,
                expires=expires,
                now=now,
                actor=principal.subject,
                actor_role=principal.role.value,
                purpose=purpose,
            )
        except IntegrityError:
            raise Conflict("another claim with this job id is in progress; retry", kind="claim-in-progress") from None
        if claimed is None:
            existing = await repository.get_job(session, body.job_id)
            if existing is not None:
                return await _replay(session, context, existing)
            return None, False
        # The job row was inserted by the statement; the answer is built from the row it returned.
        return _claim_of(claimed, body.job_id, body.printer_id, expires, context), True

    existing = await repository.get_job(session, body.job_id)
    if existing is not None:
        return await _replay(session, context, existing)
    request = await repository.claim_next(
        session,
        status=RequestStatus.PRINTING.value,
        job_id=body.job_id,
        printer_id=body.printer_id,
        lease_expires_at=expires,
        status_note=None,
        updated_at=now,
    )
    if request is None:
        return None, False
    before: dict[str, object] = {"status": RequestStatus.QUEUED.value, "attempts": request.attempts}
    job = QueueJob(
        job_id=body.job_id,
        request_id=request.id,
        printer_id=body.printer_id,
        state=JobState.LEASED.value,
        claimed_at=now,
        lease_expires_at=expires,
    )
    session.add(job)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("another claim with this job id is in progress; retry", kind="claim-in-progress") from None
    _audit(context, session, principal, "queue.claimed", request, before)
    claimed_card = [(request.id, request.nik)]
    await record_access(session, principal, AccessAction.CLAIM, requests=claimed_card, purpose=purpose, at=now)
    return _claim(request, job, context), True


# How often a waiting claim checks that its caller is still there.
async def renew(session: AsyncSession, context: ServiceContext, job_id: str, body: RenewIn) -> Claim:
    job, request = await _job_and_request(session, job_id)
    if not _holds(job, request):
        raise Conflict(
            f"the lease of job {job_id} expired and request {request.id} went elsewhere",
            kind="lease-lost",
            request_id=request.id,
        )
    expires = context.clock() + _lease(context, body.lease_seconds)
    job.lease_expires_at = expires
    request.lease_expires_at = expires
    await session.flush()
    return _claim(request, job, context)


async def release(session: AsyncSession, context: ServiceContext, principal: Principal, job_id: str) -> PrintRequest:
    """The job gives the request back before sending it: queued again, no attempt counted."""
    job, request = await _job_and_request(session, job_id)
    if job.state == JobState.RELEASED.value:
        return request
    if not _holds(job, request):
        raise _stale(job, request)
    if job.state == JobState.SENT.value:
        raise Conflict("the card data went to the printer: report printed, failed or needs-review", kind="job-sent")
    before = audit_state(request)
    now = context.clock()
    set_status(request, RequestStatus.QUEUED, now)
    context.queued(session)
    request.lease_expires_at = None
    job.state, job.finished_at = JobState.RELEASED.value, now
    await session.flush()
    _audit(context, session, principal, "queue.released", request, before)
    return request


async def sent(
    session: AsyncSession, context: ServiceContext, principal: Principal, job_id: str, body: SentIn
) -> PrintRequest:
    """From now on the outcome is the printer's: an expired lease sends the request to needs_review."""
    job, request = await _job_and_request(session, job_id)
    if not _holds(job, request):
        raise _stale(job, request)
    if job.state == JobState.SENT.value:
        return request
    job.state, job.sent_at = JobState.SENT.value, context.clock()
    await session.flush()
    context.auditor.record(
        session, principal, "queue.sent", "queue_job", job.job_id,
        before={"state": JobState.LEASED.value}, after={"state": job.state, "request_id": request.id},
    )  # fmt: skip
    return request


def _resolving(job: QueueJob, request: PrintRequest) -> bool:
    """A report for a request in needs_review whose last job is this one resolves it."""
    return request.job_id == job.job_id and request.status == RequestStatus.NEEDS_REVIEW.value


async def printed(
    session: AsyncSession, context: ServiceContext, principal: Principal, job_id: str, body: PrintedIn
) -> PrintRequest:
    job, request = await _job_and_request(session, job_id)
    if job.state == JobState.PRINTED.value or (
        request.job_id == job.job_id and request.status == RequestStatus.PRINTED.value
    ):
        if request.card_serial != body.card_serial:
            raise Conflict(
                f"job {job_id} was reported printed with another serial", kind="serial-conflict", request_id=request.id
            )
        job.state = JobState.PRINTED.value
        return request
    if not (_holds(job, request) or _resolving(job, request)):
        raise _stale(job, request)
    before = audit_state(request)
    now = context.clock()
    set_status(request, RequestStatus.PRINTED, now)
    request.card_serial = body.card_serial
    request.printed_at = now
    request.lease_expires_at = None
    job.state, job.finished_at, job.card_serial = JobState.PRINTED.value, now, body.card_serial
    await session.flush()
    _audit(context, session, principal, "queue.printed", request, before)
    await cards.register(session, context, principal, request, body.card_serial)
    return request


async def failed(
    session: AsyncSession, context: ServiceContext, principal: Principal, job_id: str, body: FailedIn
) -> PrintRequest:
    """Attempt counted; back to the queue in its old place, or to needs_review after ``max_attempts``."""
    job, request = await _job_and_request(session, job_id)
    if job.state == JobState.FAILED.value:
        return request
    if not (_holds(job, request) or _resolving(job, request)):
        raise _stale(job, request)
    before = audit_state(request)
    now = context.clock()
    request.attempts += 1
    if request.attempts >= context.settings.max_attempts:
        note = f"failed {request.attempts} times; last: {body.reason}"
        if request.status != RequestStatus.NEEDS_REVIEW.value:
            set_status(request, RequestStatus.NEEDS_REVIEW, now, note)
        else:
            request.status_note, request.updated_at = note[:300], now
    else:
        set_status(request, RequestStatus.QUEUED, now, f"attempt {request.attempts} failed: {body.reason}")
        context.queued(session)
    request.lease_expires_at = None
    job.state, job.finished_at = JobState.FAILED.value, now
    job.reason, job.card_used = body.reason, body.card_used
    await session.flush()
    _audit(context, session, principal, "queue.failed", request, before)
    return request


async def needs_review(
    session: AsyncSession, context: ServiceContext, principal: Principal, job_id: str, body: NeedsReviewIn
) -> PrintRequest:
    job, request = await _job_and_request(session, job_id)
    if job.state == JobState.NEEDS_REVIEW.value:
        return request
    if not _holds(job, request):
        raise _stale(job, request)
    before = audit_state(request)
    now = context.clock()
    set_status(request, RequestStatus.NEEDS_REVIEW, now, body.reason)
    request.lease_expires_at = None
    job.state, job.finished_at, job.reason = JobState.NEEDS_REVIEW.value, now, body.reason
    await session.flush()
    _audit(context, session, principal, "queue.needs_review", request, before)
    return request


async def sweep_expired_leases(session: AsyncSession, context: ServiceContext) -> int:
    """Expired leases: back to the queue, or to needs_review when the job had sent the card data."""
    now = context.clock()
    expired = await repository.expired_leases(session, now)
    for request in expired:
        job = await repository.get_job(session, request.job_id or "")
        before = audit_state(request)
        if job is not None and job.state == JobState.SENT.value:
            set_status(request, RequestStatus.NEEDS_REVIEW, now, "the lease expired after the card was sent")
            action = "queue.lease_expired_needs_review"
        else:
            set_status(request, RequestStatus.QUEUED, now, "the lease expired")
            context.queued(session)
            action = "queue.lease_expired"
        request.lease_expires_at = None
        if job is not None:
            job.state, job.finished_at = JobState.EXPIRED.value, now
        _audit(context, session, SWEEPER, action, request, before)
    if expired:
        await session.flush()
        log.info("expired leases collected", extra={"count": len(expired)})
    return len(expired)
