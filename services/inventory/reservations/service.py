"""Rules of reservations: a count of one blank held for a job, then consumed, spoiled, released, held or expired.

Grants never oversell: on PostgreSQL every grant first locks the one ``stock_lock`` row, so grants are
counted one after another; on SQLite the write transaction is the only writer already. Regular jobs may not
bring the available blanks below the urgent reserve. Everything is idempotent by job id.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.db import Database
from services.common.models import utcnow
from services.common.problems import Conflict, NotFound
from services.inventory.config import Settings
from services.inventory.dependencies import SYSTEM, auditor
from services.inventory.ledger import repository as ledger
from services.inventory.ledger import service as ledger_service
from services.inventory.models import Reservation
from services.inventory.reorder import service as reorder
from services.inventory.reservations import repository
from services.inventory.reservations.schemas import ConsumeIn, HoldIn, ReserveIn, SpoilIn
from services.inventory.states import (
    RESERVATION_TRANSITIONS,
    BlankState,
    MovementKind,
    ReservationStatus,
    check_transition,
)

__all__ = ["consume", "expire_overdue", "hold", "release", "reserve", "spoil", "sweeper"]

log = logging.getLogger(__name__)


def _snapshot(r: Reservation) -> dict[str, object]:
    return {
        "status": r.status,
        "urgent": r.urgent,
        "serial": r.serial,
        "expires_at": r.expires_at.isoformat() if r.expires_at else None,
    }


def _move(session: AsyncSession, principal: Principal, r: Reservation, target: ReservationStatus) -> dict[str, object]:
    """Check and apply a reservation's transition; returns the state before, for the audit row."""
    check_transition(RESERVATION_TRANSITIONS, ReservationStatus(r.status), target, kind="reservation-closed")
    before = _snapshot(r)
    r.status = target.value
    r.updated_at = utcnow()
    return before


async def expire_overdue(session: AsyncSession, now: dt.datetime | None = None) -> list[str]:
    """Release every reservation past its time-to-live; returns their job ids."""
    now = now or utcnow()
    expired = []
    for r in await repository.overdue(session, now):
        before = _move(session, SYSTEM, r, ReservationStatus.EXPIRED)
        ledger.add_movement(
            session, kind=MovementKind.RELEASED, actor=SYSTEM.subject, job_id=r.job_id, reason="expired"
        )
        auditor.record(
            session, SYSTEM, "reservation.expired", "reservation", r.job_id, before=before, after=_snapshot(r)
        )
        expired.append(r.job_id)
    return expired


async def reserve(
    session: AsyncSession, settings: Settings, principal: Principal, body: ReserveIn
) -> tuple[Reservation, bool]:
    """The job's reservation, and whether it was made now (False: the same job asked again)."""
    now = utcnow()
    # Expiring only gives blanks back, so it needs no stock lock; the lock is held from here to the commit.
    await expire_overdue(session, now)
    await session.flush()
    await ledger.lock_stock(session)
    if (existing := await repository.get(session, body.job_id)) is not None:
        return existing, False
    available, unused, _ = await ledger_service.available_now(session)
    kept = ledger_service.urgent_reserve(settings, unused)
    floor = 0 if body.urgent else kept
    if available - 1 < floor:
        who = "an urgent job" if body.urgent else f"a regular job ({kept} are kept for urgent jobs)"
        raise Conflict(
            f"no blanks for {who}: {max(available, 0)} available",
            kind="no-blanks",
            available=max(available, 0),
            urgent_reserve=kept,
            urgent=body.urgent,
        )
    ttl = min(body.ttl_seconds or settings.default_ttl_seconds, settings.max_ttl_seconds)
    reservation = Reservation(
        job_id=body.job_id,
        urgent=body.urgent,
        status=ReservationStatus.RESERVED.value,
        expires_at=now + dt.timedelta(seconds=ttl),
        reserved_by=principal.subject,
        created_at=now,
        updated_at=now,
    )
    session.add(reservation)
    ledger.add_movement(
        session,
        kind=MovementKind.RESERVED,
        actor=principal.subject,
        job_id=body.job_id,
        reason="urgent" if body.urgent else None,
    )
    auditor.record(session, principal, "reservation.reserved", "reservation", body.job_id, after=_snapshot(reservation))
    await session.flush()
    return reservation, True


async def _open(session: AsyncSession, job_id: str) -> Reservation:
    reservation = await repository.get(session, job_id, for_update=True)
    if reservation is None:
        raise NotFound(f"no reservation for job {job_id}", kind="reservation-unknown")
    return reservation


def _closed(r: Reservation, asked: str) -> Conflict:
    detail = f"the reservation of job {r.job_id} is {r.status}"
    if r.serial:
        detail += f" with serial {r.serial}"
    return Conflict(f"{detail}; cannot {asked}", kind="reservation-closed", status=r.status, serial=r.serial)


_USABLE = frozenset({ReservationStatus.RESERVED, ReservationStatus.HELD, ReservationStatus.EXPIRED})


async def _reinstate_if_expired(session: AsyncSession, r: Reservation, asked: str) -> None:
    """A report after the reservation expired still names a card that exists: record it if a blank that no open
    reservation counts is left (the urgent reserve does not apply: the blank is already used); else 409."""
    if r.status != ReservationStatus.EXPIRED.value:
        return
    await ledger.lock_stock(session)
    available, _, _ = await ledger_service.available_now(session)
    if available < 1:
        raise _closed(r, f"{asked}: it expired and every unused blank is reserved by another job")


async def consume(
    session: AsyncSession, settings: Settings, principal: Principal, job_id: str, body: ConsumeIn
) -> Reservation:
    """The printer used ``body.serial`` for this job: the blank became a card. Same serial again → same answer."""
    r = await _open(session, job_id)
    if r.status == ReservationStatus.CONSUMED.value and r.serial == body.serial:
        return r
    if ReservationStatus(r.status) not in _USABLE:
        raise _closed(r, f"consume {body.serial}")
    await _reinstate_if_expired(session, r, f"consume {body.serial}")
    await ledger_service.take_blank(
        session,
        principal,
        body.serial,
        BlankState.CONSUMED,
        kind=MovementKind.CONSUMED,
        job_id=job_id,
        request_id=body.request_id,
        printer_id=body.printer_id,
    )
    before = _move(session, principal, r, ReservationStatus.CONSUMED)
    r.serial, r.request_id, r.printer_id, r.expires_at = body.serial, body.request_id, body.printer_id, None
    auditor.record(session, principal, "reservation.consumed", "reservation", job_id, before=before, after=_snapshot(r))
    await reorder.maybe_draft(session, settings, principal)
    return r


async def spoil(
    session: AsyncSession, settings: Settings, principal: Principal, job_id: str, body: SpoilIn
) -> Reservation:
    """The printer spoiled ``body.serial`` for this job (reason, witness). Same serial again → same answer."""
    r = await _open(session, job_id)
    if r.status == ReservationStatus.SPOILED.value and r.serial == body.serial:
        return r
    if ReservationStatus(r.status) not in _USABLE:
        raise _closed(r, f"spoil {body.serial}")
    await _reinstate_if_expired(session, r, f"spoil {body.serial}")
    await ledger_service.take_blank(
        session,
        principal,
        body.serial,
        BlankState.SPOILED,
        kind=MovementKind.SPOILED,
        job_id=job_id,
        printer_id=body.printer_id,
        reason=body.reason.value,
        witness=body.witness,
    )
    before = _move(session, principal, r, ReservationStatus.SPOILED)
    r.serial, r.printer_id, r.reason, r.witness, r.expires_at = (
        body.serial,
        body.printer_id,
        body.reason.value,
        body.witness,
        None,
    )
    auditor.record(session, principal, "reservation.spoiled", "reservation", job_id, before=before, after=_snapshot(r))
    await reorder.maybe_draft(session, settings, principal)
    return r


async def release(session: AsyncSession, principal: Principal, job_id: str) -> Reservation:
    """The job ended without using a blank: it is available again. Released or expired already → same answer."""
    r = await _open(session, job_id)
    if ReservationStatus(r.status) in {ReservationStatus.RELEASED, ReservationStatus.EXPIRED}:
        return r
    if ReservationStatus(r.status) not in {ReservationStatus.RESERVED, ReservationStatus.HELD}:
        raise _closed(r, "release it")
    before = _move(session, principal, r, ReservationStatus.RELEASED)
    r.expires_at = None
    ledger.add_movement(session, kind=MovementKind.RELEASED, actor=principal.subject, job_id=job_id)
    auditor.record(session, principal, "reservation.released", "reservation", job_id, before=before, after=_snapshot(r))
    return r


async def hold(session: AsyncSession, principal: Principal, job_id: str, body: HoldIn) -> Reservation:
    """The outcome is unknown: the reservation stops expiring until an operator decides."""
    r = await _open(session, job_id)
    if r.status == ReservationStatus.HELD.value:
        return r
    if r.status != ReservationStatus.RESERVED.value:
        raise _closed(r, "hold it")
    before = _move(session, principal, r, ReservationStatus.HELD)
    r.expires_at, r.reason = None, body.reason
    auditor.record(session, principal, "reservation.held", "reservation", job_id, before=before, after=_snapshot(r))
    return r


@contextlib.asynccontextmanager
async def sweeper(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan part: every ``sweep_interval_seconds`` release the reservations past their time-to-live."""
    settings: Settings = app.state.settings

    async def loop() -> None:
        while True:
            await asyncio.sleep(settings.sweep_interval_seconds)
            db: Database = app.state.db
            try:
                async with db.sessions() as session, session.begin():
                    expired = await expire_overdue(session)
                if expired:
                    log.info("released %d expired reservations", len(expired))
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("the reservation sweeper failed; it tries again")

    task = asyncio.create_task(loop(), name="reservation-sweeper") if settings.start_sweeper else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
