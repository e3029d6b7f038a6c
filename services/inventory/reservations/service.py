"""Rules of reservations: a count of one blank held for a job, then consumed, spoiled, released, held or expired.

Grants never oversell: on PostgreSQL every grant first locks the one ``stock_lock`` row, so grants are
counted one after another; on SQLite the write transaction is the only writer already. Regular jobs may not
bring the available blanks below the urgent reserve. Everything is idempotent by job id.

These are the gateway's calls, made for every card, so they are written as a few Core statements rather than
through the ORM's unit of work: the balances come from the running counters on the stock row (not from
counting blanks), a blank is taken with one conditional ``UPDATE … RETURNING``, and the reservation's change,
its movement, its audit rows and the counters go to the database together (one round trip on PostgreSQL).
Locks are always taken in one order — reservation, blank, stock row — so writers never deadlock.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.models import utcnow
from services.common.problems import Conflict, NotFound
from services.common.states import check_transition
from services.inventory.config import Settings
from services.inventory.dependencies import SYSTEM
from services.inventory.ledger import repository as ledger
from services.inventory.ledger import service as ledger_service
from services.inventory.reorder import service as reorder
from services.inventory.reservations import repository
from services.inventory.reservations.repository import Row
from services.inventory.reservations.schemas import ConsumeIn, HoldIn, ReserveIn, SpoilIn
from services.inventory.states import (
    RESERVATION_TRANSITIONS,
    BlankState,
    MovementKind,
    ReservationStatus,
)

__all__ = ["consume", "expire_overdue", "hold", "release", "reserve", "spoil"]

log = logging.getLogger(__name__)


def _prefixed(prefix: str, values: Row) -> Row:
    return {prefix + name: value for name, value in values.items()}


def _snapshot(r: Row) -> dict[str, object]:
    expires_at = r["expires_at"]
    return {
        "status": r["status"],
        "urgent": r["urgent"],
        "serial": r["serial"],
        "expires_at": expires_at.isoformat() if expires_at else None,
    }


def _audit(principal: Principal, now: dt.datetime, action: str, object_type: str, object_id: str, **states: Any) -> Row:
    """An audit row's values (the shared ``Auditor`` writes the same columns through the ORM)."""
    return {
        "at": now,
        "actor": principal.subject,
        "actor_role": principal.role.value,
        "action": action,
        "object_type": object_type,
        "object_id": str(object_id),
        "before": states.get("before"),
        "after": states.get("after"),
    }


_MOVEMENT_COLUMNS = (
    "serial",
    "tranche_id",
    "job_id",
    "request_id",
    "printer_id",
    "reason",
    "witness",
    "from_state",
    "to_state",
)


def _movement(kind: MovementKind, actor: str, now: dt.datetime, **fields: Any) -> Row:
    values: Row = {"at": now, "kind": kind.value, "quantity": 1, "actor": actor}
    values.update({name: fields.get(name) for name in _MOVEMENT_COLUMNS})
    return values


def _move(r: Row, target: ReservationStatus, now: dt.datetime, **changes: Any) -> tuple[dict[str, object], Row]:
    """Check a reservation's transition; returns the state before (for the audit row) and the values to set."""
    check_transition(
        RESERVATION_TRANSITIONS, ReservationStatus(r["status"]), target, thing="reservation", kind="reservation-closed"
    )
    before = _snapshot(r)
    values = {"status": target.value, "updated_at": now, **changes}
    r.update(values)
    return before, values


def _write_back(r: Row) -> Row:
    return _prefixed("u_", r)


def _is_open(status: str) -> bool:
    return status in (ReservationStatus.RESERVED.value, ReservationStatus.HELD.value)


async def expire_overdue(session: AsyncSession, now: dt.datetime | None = None) -> list[str]:
    """Release every reservation past its time-to-live; returns their job ids.

    Locks the overdue reservations (skipping those another transaction holds: a job consuming one wins), then
    the stock row, whose ``reserved`` counter gives their blanks back."""
    now = now or utcnow()
    overdue = await repository.lock_overdue(session, now)
    if not overdue:
        return []
    movements, audits = [], []
    for r in overdue:
        before, _ = _move(r, ReservationStatus.EXPIRED, now)
        movements.append(_movement(MovementKind.RELEASED, SYSTEM.subject, now, job_id=r["job_id"], reason="expired"))
        audits.append(
            _audit(SYSTEM, now, "reservation.expired", "reservation", r["job_id"], before=before, after=_snapshot(r))
        )
    jobs = [r["job_id"] for r in overdue]
    await repository.write_expired(session, jobs, now, movements, audits)
    return jobs


async def reserve(session: AsyncSession, settings: Settings, principal: Principal, body: ReserveIn) -> tuple[Row, bool]:
    """The job's reservation, and whether it was made now (False: the same job asked again)."""
    now = utcnow()
    # The stock lock is held from here to the commit: grants are counted one at a time.
    counters, overdue, known = await repository.lock_stock_and_peek(session, now, body.job_id)
    if overdue:  # lazy expiry: only when the index says one is due (the sweeper does the rest)
        counters.reserved -= len(await expire_overdue(session, now))
    if known and (existing := await repository.get_row(session, body.job_id)) is not None:
        return existing, False
    kept = ledger_service.urgent_reserve(settings, counters.unused)
    floor = 0 if body.urgent else kept
    available = counters.available
    if available - 1 < floor:
        if (existing := await repository.get_row(session, body.job_id)) is not None:  # reserved while this call waited
            return existing, False
        who = "an urgent job" if body.urgent else f"a regular job ({kept} are kept for urgent jobs)"
        raise Conflict(
            f"no blanks for {who}: {max(available, 0)} available",
            kind="no-blanks",
            available=max(available, 0),
            urgent_reserve=kept,
            urgent=body.urgent,
        )
    ttl = min(body.ttl_seconds or settings.default_ttl_seconds, settings.max_ttl_seconds)
    reservation: Row = {
        "job_id": body.job_id,
        "urgent": body.urgent,
        "status": ReservationStatus.RESERVED.value,
        "expires_at": now + dt.timedelta(seconds=ttl),
        "serial": None,
        "request_id": None,
        "printer_id": None,
        "reason": None,
        "witness": None,
        "reserved_by": principal.subject,
        "created_at": now,
        "updated_at": now,
    }
    reason = "urgent" if body.urgent else None
    values = _prefixed("r_", reservation)
    values.update(
        _prefixed("m_", _movement(MovementKind.RESERVED, principal.subject, now, job_id=body.job_id, reason=reason))
    )
    values.update(
        _prefixed(
            "a1_",
            _audit(principal, now, "reservation.reserved", "reservation", body.job_id, after=_snapshot(reservation)),
        )
    )
    values.update(d_unused=0, d_reserved=1)
    if not await repository.insert_reservation(session, values) and (
        existing := await repository.get_row(session, body.job_id)
    ):
        return existing, False
    return reservation, True


async def _open(session: AsyncSession, job_id: str) -> Row:
    reservation = await repository.get_row(session, job_id, for_update=True)
    if reservation is None:
        raise NotFound(f"no reservation for job {job_id}", kind="reservation-unknown")
    return reservation


def _closed(r: Row, asked: str) -> Conflict:
    detail = f"the reservation of job {r['job_id']} is {r['status']}"
    if r["serial"]:
        detail += f" with serial {r['serial']}"
    return Conflict(f"{detail}; cannot {asked}", kind="reservation-closed", status=r["status"], serial=r["serial"])


_USABLE = frozenset({ReservationStatus.RESERVED, ReservationStatus.HELD, ReservationStatus.EXPIRED})


async def _use(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    job_id: str,
    serial: str,
    target: ReservationStatus,
    *,
    printer_id: str,
    request_id: str | None = None,
    reason: str | None = None,
    witness: str | None = None,
) -> Row:
    """The printer used the blank ``serial`` for this job: consumed (a card) or spoiled. Same serial again → the
    same answer. A report after the reservation expired still names a card that exists: it is recorded if a blank
    that no open reservation counts is left (the urgent reserve does not apply: the blank is already used)."""
    verb = "consume" if target is ReservationStatus.CONSUMED else "spoil"
    now = utcnow()
    blank_target = BlankState.CONSUMED if target is ReservationStatus.CONSUMED else BlankState.SPOILED
    # Every key is prefixed: an INSERT or UPDATE would take a key named like one of its columns as a value.
    values: Row = {
        "o_job_id": job_id,
        "b_serial": serial,
        "b_state": blank_target.value,
        "b_job_id": job_id,
        "b_request_id": request_id,
        "b_updated_at": now,
    }
    values.update(ledger.usage_window(reorder.reorder_window(settings)))
    r, tranche_id = await repository.take_blank_and_open(session, values)
    if r is None:
        raise NotFound(f"no reservation for job {job_id}", kind="reservation-unknown")
    checked = ledger.reorder_figures_from(r)
    # Any refusal from here on rolls back the blank taken above with everything else.
    if r["status"] == target.value and r["serial"] == serial:
        return r
    if ReservationStatus(r["status"]) not in _USABLE:
        raise _closed(r, f"{verb} {serial}")
    was_open = _is_open(r["status"])
    if tranche_id is None:
        await ledger.get_blank(session, serial, for_update=True)  # lock it before the stock row
    if r["status"] == ReservationStatus.EXPIRED.value:
        counters = await ledger.lock_stock(session)
        if counters.available < 1:
            raise _closed(r, f"{verb} {serial}: it expired and every unused blank is reserved by another job")
    kind = MovementKind.CONSUMED if target is ReservationStatus.CONSUMED else MovementKind.SPOILED
    if tranche_id is None:
        # Anything else (unknown, used, written off …): the ledger's own rules answer with the reason, or
        # record the change (with its movement, audit row and counters) when the blank may still be used.
        await ledger_service.take_blank(
            session,
            principal,
            serial,
            blank_target,
            kind=kind,
            job_id=job_id,
            request_id=request_id,
            printer_id=printer_id,
            reason=reason,
            witness=witness,
        )
        await session.flush()
    changes: Row = {"serial": serial, "printer_id": printer_id, "expires_at": None}
    if target is ReservationStatus.CONSUMED:
        changes["request_id"] = request_id
    else:
        changes.update(reason=reason, witness=witness)
    before, _ = _move(r, target, now, **changes)
    values.update(_write_back(r))
    values["d_reserved"] = -1 if was_open else 0
    audit = _audit(
        principal, now, f"reservation.{target.value}", "reservation", job_id, before=before, after=_snapshot(r)
    )
    d_reserved = -1 if was_open else 0
    if tranche_id is None:
        await reorder.maybe_draft(session, settings, principal, (0, d_reserved, 0))
        values.update(_prefixed("a1_", audit), d_unused=0)
        await repository.USE_RECORDED.run(session, values)
    else:
        movement = _movement(
            kind,
            principal.subject,
            now,
            serial=serial,
            tranche_id=tranche_id,
            job_id=job_id,
            request_id=request_id,
            printer_id=printer_id,
            reason=reason,
            witness=witness,
            from_state=BlankState.AVAILABLE.value,
            to_state=blank_target.value,
        )
        blank_audit = _audit(
            principal,
            now,
            f"blank.{blank_target.value}",
            "blank",
            serial,
            before={"state": BlankState.AVAILABLE.value, "job_id": None},
            after={"state": blank_target.value, "job_id": job_id, "reason": reason, "witness": witness},
        )
        values.update(_prefixed("m_", movement))
        values.update(_prefixed("a1_", blank_audit))
        values.update(_prefixed("a2_", audit))
        values.update(d_unused=-1, g_day=now.date(), g_used=1)
        # The reorder check first: the last statement takes the stock row, whose lock lasts until the commit.
        await reorder.maybe_draft(session, settings, principal, (-1, d_reserved, 1), checked)
        await repository.USE["postgresql" if ledger.is_postgres(session) else "sqlite"].run(session, values)
    return r


async def consume(session: AsyncSession, settings: Settings, principal: Principal, job_id: str, body: ConsumeIn) -> Row:
    """The printer used ``body.serial`` for this job: the blank became a card. Same serial again → same answer."""
    return await _use(
        session,
        settings,
        principal,
        job_id,
        body.serial,
        ReservationStatus.CONSUMED,
        request_id=body.request_id,
        printer_id=body.printer_id,
    )


async def spoil(session: AsyncSession, settings: Settings, principal: Principal, job_id: str, body: SpoilIn) -> Row:
    """The printer spoiled ``body.serial`` for this job (reason, witness). Same serial again → same answer."""
    return await _use(
        session,
        settings,
        principal,
        job_id,
        body.serial,
        ReservationStatus.SPOILED,
        printer_id=body.printer_id,
        reason=body.reason.value,
        witness=body.witness,
    )


async def release(session: AsyncSession, principal: Principal, job_id: str) -> Row:
    """The job ended without using a blank: it is available again. Released or expired already → same answer."""
    r = await _open(session, job_id)
    if ReservationStatus(r["status"]) in {ReservationStatus.RELEASED, ReservationStatus.EXPIRED}:
        return r
    if not _is_open(r["status"]):
        raise _closed(r, "release it")
    now = utcnow()
    before, _ = _move(r, ReservationStatus.RELEASED, now, expires_at=None)
    values = _write_back(r)
    values.update(_prefixed("m_", _movement(MovementKind.RELEASED, principal.subject, now, job_id=job_id)))
    audit = _audit(principal, now, "reservation.released", "reservation", job_id, before=before, after=_snapshot(r))
    values.update(_prefixed("a1_", audit), d_unused=0, d_reserved=-1)
    await repository.RELEASE.run(session, values)
    return r


async def hold(session: AsyncSession, principal: Principal, job_id: str, body: HoldIn) -> Row:
    """The outcome is unknown: the reservation stops expiring until an operator decides."""
    r = await _open(session, job_id)
    if r["status"] == ReservationStatus.HELD.value:
        return r
    if r["status"] != ReservationStatus.RESERVED.value:
        raise _closed(r, "hold it")
    now = utcnow()
    before, _ = _move(r, ReservationStatus.HELD, now, expires_at=None, reason=body.reason)
    values = _write_back(r)
    audit = _audit(principal, now, "reservation.held", "reservation", job_id, before=before, after=_snapshot(r))
    values.update(_prefixed("a1_", audit))
    await repository.HOLD.run(session, values)
    return r
