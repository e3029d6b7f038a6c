"""Rules of print requests: who may submit what, one active request per NIK, the queue view, the review,
activation and handover steps. Functions flush, never commit (the session dependency owns the transaction)."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal, Role
from services.common.models import new_id, utcnow
from services.common.problems import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from services.common.states import check_transition
from services.request.autocommit import alone_connection
from services.request.cards import service as cards
from services.request.cards.states import CardStatus
from services.request.context import ServiceContext
from services.request.models import PrintRequest
from services.request.print_requests import repository
from services.request.print_requests.schemas import (
    ActivateIn,
    Channel,
    HandoverIn,
    Priority,
    RequestIn,
    ResolveIn,
    ResolveOutcome,
)
from services.request.print_requests.states import TRANSITIONS, RequestStatus
from services.request.print_requests.validation import check_request
from services.request.queue import repository as queue_repository
from services.request.queue.policy import QueuePolicy, lane_source
from services.request.sukets import lifecycle as sukets

__all__ = [
    "activate",
    "audit_state",
    "cancel",
    "create",
    "duplicate_for",
    "duplicate_nik",
    "handover",
    "load",
    "may_submit",
    "readable",
    "resolve",
    "set_status",
]


def audit_state(request: PrintRequest) -> dict[str, Any]:
    """What an audit row records of a request: never the NIK or images, only where the request is."""
    return {
        "status": request.status,
        "attempts": request.attempts,
        "job_id": request.job_id,
        "card_serial": request.card_serial,
    }


# --- who may do what ----------------------------------------------------------------------------------------


def readable(principal: Principal, request: PrintRequest) -> None:
    """403 unless the caller may see this request (clerk: its kecamatan; partner: its own)."""
    if principal.role is Role.CLERK and request.kecamatan_code not in principal.scope:
        raise Forbidden("this request belongs to a kecamatan outside your scope", kind="out-of-scope")
    if principal.role is Role.PARTNER and request.submitted_by != principal.subject:
        raise Forbidden("a partner reads only the requests it submitted", kind="out-of-scope")


def may_submit(principal: Principal, data: RequestIn) -> None:
    """403 unless ``principal`` may submit ``data`` (a partner: urgent, its channel; a clerk: its kecamatan)."""
    if principal.role is Role.PARTNER:
        if data.priority is not Priority.URGENT:
            raise Forbidden("a partner submits urgent requests only", kind="partner-urgent-only")
        if data.channel is not Channel.PARTNER:
            raise Forbidden("a partner submits through channel partner only", kind="partner-channel")
    elif data.channel is Channel.PARTNER:
        raise Unprocessable.field("channel", "channel partner is for partner systems")
    elif principal.role is Role.CLERK and data.priority is Priority.URGENT:
        # An urgent need jumps the queue on documents the office checks at its desk, not on a proposal.
        raise Forbidden(
            "urgent requests are taken at the office desk, where their documents are checked",
            kind="clerk-urgent",
            errors=[FieldError(field="reason", reason=f"{data.reason.value} is urgent: a clerk proposes regular ones")],
        )
    if not principal.may_act_for(data.kecamatan_code):
        raise Forbidden(f"kecamatan {data.kecamatan_code} is outside your scope", kind="out-of-scope")


def duplicate_nik(existing_id: str | None) -> Conflict:
    """409 for a NIK with an active request; it links to that request only when the caller may read it."""
    problem = Conflict(
        "this NIK already has an active request",
        kind="duplicate-nik",
        errors=[FieldError(field="nik", reason="already has an active request")],
    )
    if existing_id is not None:
        url = f"/v1/requests/{existing_id}"
        problem.headers["Link"] = f'<{url}>; rel="duplicate"'
        problem.extensions.update(existing_request_id=existing_id, existing_request=url)
    return problem


async def duplicate_for(session: AsyncSession, principal: Principal, nik: str) -> Conflict:
    """``duplicate_nik`` as ``principal`` may see it: the active request named only if it may read it."""
    winner_id = await repository.active_by_nik(session, nik)
    winner = await repository.get(session, winner_id) if winner_id else None
    try:
        if winner is not None:
            readable(principal, winner)
    except Forbidden:
        winner = None
    return duplicate_nik(winner.id if winner is not None else None)


# --- changes ------------------------------------------------------------------------------------------------


async def create(
    session: AsyncSession,
    context: ServiceContext,
    principal: Principal,
    data: RequestIn,
    *,
    alone: bool = False,
    replaces: str | None = None,
) -> dict[str, Any]:
    """Validate, refuse a second active request for the NIK, give the queue key and store as ``queued``.

    Returns the stored row's values (``to_out`` reads them; photo and signature sealed). On PostgreSQL the key,
    the row and the audit row are one statement; ``alone`` (the caller writes nothing else in this transaction)
    lets that statement run without BEGIN and COMMIT around it: one round trip in all. ``replaces``: the request
    this one replaces (replacements/service.py has checked who may, and ended that request in this transaction).
    """
    if replaces is None:
        may_submit(principal, data)
    checked, errors = check_request(data, catalog=context.catalog, settings=context.settings, today=context.today())
    if checked is None:
        raise Unprocessable("; ".join(f"{e.field}: {e.reason}" for e in errors), kind="validation", errors=errors)
    # No look-up first: the partial unique index refuses a second active request, then we find the first.
    now = context.clock()
    policy = QueuePolicy.from_settings(context.settings)
    priority = data.priority.value
    base = policy.base_key(urgent=data.priority is Priority.URGENT, now=now)
    source = lane_source(data.channel.value, None)
    values = data.model_dump(exclude={"photo", "signature"})
    values.update(
        id=new_id(),
        photo=checked.photo,
        signature=checked.signature,
        priority=priority,
        status=RequestStatus.QUEUED.value,
        attempts=0,
        submitted_by=principal.subject,
        submitter_role=principal.role.value,
        created_at=now,
        updated_at=now,
        replaces=replaces,
    )
    # Sealed under the new id before it is stored: the images never reach the database in the clear.
    context.keyring.seal_images(values)
    audit = {
        "at": utcnow(),
        "actor": principal.subject,
        "actor_role": principal.role.value,
        "action": "request.created",
        "before": {"status": RequestStatus.RECEIVED.value},
        "after": {
            "status": RequestStatus.QUEUED.value,
            "attempts": 0,
            "job_id": None,
            "card_serial": None,
            "priority": priority,
            "channel": data.channel.value,
        }
        | ({"replaces": replaces} if replaces else {}),
    }
    autocommit = await alone_connection(session) if alone else None
    connection = autocommit or await session.connection()
    # In a transaction, a savepoint: a refused insert (and its lane keys) is undone alone, and the session can
    # still look up the request that won. On its own (autocommit) a refused statement leaves nothing behind.
    guard: contextlib.AbstractAsyncContextManager[Any] = (
        contextlib.nullcontext() if autocommit is not None else connection.begin_nested()
    )
    try:
        async with guard:
            if connection.dialect.name == "postgresql":
                key = await repository.insert_queued_pg(
                    connection, values, source=source, spacing=policy.spacing_ms, base=base, audit=audit
                )
                if key is None:  # the lane's first request: make the lane, then the same statement again
                    await queue_repository.ensure_lane(
                        connection, priority=priority, source=source, kecamatan_code=data.kecamatan_code, key=base
                    )
                    key = await repository.insert_queued_pg(
                        connection, values, source=source, spacing=policy.spacing_ms, base=base, audit=audit
                    )
                    if key is None:  # pragma: no cover - the lane was just made
                        raise RuntimeError("queue lane missing")
                values["queue_key"] = key
            else:
                values["queue_key"] = await queue_repository.take_keys(
                    session,
                    priority=priority,
                    source=source,
                    kecamatan_code=data.kecamatan_code,
                    count=1,
                    base=base,
                    spacing=policy.spacing_ms,
                )
                await repository.insert_queued(connection, values, audit)
    except IntegrityError:
        # The NIK already has an active request (the partial unique index): link to it, for those who may read it.
        raise await duplicate_for(session, principal, data.nik) from None
    context.queued(session)
    return values


def set_status(request: PrintRequest, target: RequestStatus, now: dt.datetime, note: str | None = None) -> None:
    """Move ``request`` to ``target`` if the table allows it (409 otherwise)."""
    check_transition(TRANSITIONS, RequestStatus(request.status), target, thing="request")
    request.status = target.value
    request.updated_at = now
    if note is not None:
        request.status_note = note[:300]


async def load(
    session: AsyncSession, principal: Principal, request_id: str, *, for_update: bool = True
) -> PrintRequest:
    """The request, if ``principal`` may read it: 404 when it does not exist, 403 when it may not."""
    request = await repository.get(session, request_id, for_update=for_update)
    if request is None:
        raise NotFound(f"no request {request_id}", kind="request-not-found")
    readable(principal, request)
    return request


async def _change(
    session: AsyncSession,
    context: ServiceContext,
    principal: Principal,
    request: PrintRequest,
    action: str,
    target: RequestStatus,
    *,
    note: str | None = None,
    **changes: Any,
) -> PrintRequest:
    before = audit_state(request)
    set_status(request, target, context.clock(), note)
    for name, value in changes.items():
        setattr(request, name, value)
    await session.flush()
    context.auditor.record(
        session, principal, action, "print_request", request.id, before=before, after=audit_state(request)
    )
    return request


async def cancel(
    session: AsyncSession, context: ServiceContext, principal: Principal, request_id: str, note: str | None
) -> PrintRequest:
    request = await load(session, principal, request_id)
    cancelled = await _change(
        session, context, principal, request, "request.cancelled", RequestStatus.CANCELLED, note=note
    )
    await sukets.withdraw_valid(session, context, principal, reason=sukets.CANCELLED, request_id=cancelled.id)
    return cancelled


async def resolve(
    session: AsyncSession, context: ServiceContext, principal: Principal, request_id: str, body: ResolveIn
) -> PrintRequest:
    """An operator looked at the output tray: the card came out (with its serial) or it did not."""
    request = await load(session, principal, request_id)
    if request.status != RequestStatus.NEEDS_REVIEW.value:
        raise Conflict(f"the request is {request.status}, not needs_review", kind="not-needs-review")
    if body.outcome is ResolveOutcome.PRINTED:
        if not body.card_serial:
            raise Unprocessable.field("card_serial", "required when the outcome is printed")
        resolved = await _change(
            session, context, principal, request, "request.resolved_printed", RequestStatus.PRINTED,
            note=body.note, card_serial=body.card_serial, printed_at=context.clock(),
        )  # fmt: skip
        await cards.register(session, context, principal, resolved, body.card_serial)
        return resolved
    context.queued(session)
    return await _change(
        session, context, principal, request, "request.resolved_not_printed", RequestStatus.QUEUED,
        note=body.note, lease_expires_at=None,
    )  # fmt: skip


async def activate(
    session: AsyncSession, context: ServiceContext, principal: Principal, request_id: str, body: ActivateIn
) -> PrintRequest:
    """Activate a printed card after checking that its serial is the one printed for this request."""
    request = await load(session, principal, request_id)
    if request.status == RequestStatus.PRINTED.value and body.card_serial != request.card_serial:
        raise Conflict(
            "the card's serial is not the one printed for this request",
            kind="serial-mismatch",
            errors=[FieldError(field="card_serial", reason="does not match the printed card")],
        )
    activated = await _change(
        session, context, principal, request, "request.activated", RequestStatus.ACTIVATED, activated_at=context.clock()
    )
    await cards.follow(session, context, principal, activated, CardStatus.ACTIVATED)
    return activated


async def handover(
    session: AsyncSession, context: ServiceContext, principal: Principal, request_id: str, body: HandoverIn
) -> PrintRequest:
    """Record that the resident (or the named person) received the activated card."""
    request = await load(session, principal, request_id)
    collected = await _change(
        session, context, principal, request, "request.collected", RequestStatus.COLLECTED,
        note=body.note, received_by=body.received_by, collected_at=context.clock(),
    )  # fmt: skip
    await cards.follow(session, context, principal, collected, CardStatus.COLLECTED)
    # The card stands in for itself now: the resident's Sukets are withdrawn with the handover, or not at all.
    await sukets.withdraw_valid(session, context, principal, reason=sukets.HANDED_OVER, nik=collected.nik)
    return collected
