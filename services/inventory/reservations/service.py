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
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.models import utcnow
from services.common.problems import Conflict, NotFound
from services.common.states import check_transition
from services.inventory.config import Settings
from services.inventory.dependencies import SYSTEM
from services.inventory.ledger import repository as ledger
from services.inventory.ledger import service as ledger_service
from services.inventory.models import AuditEvent, Blank, Movement, Reservation, StockLock
from services.inventory.reorder import service as reorder
from services.inventory.reservations.schemas import ConsumeIn, HoldIn, ReserveIn, SpoilIn
from services.inventory.states import (
    RESERVATION_TRANSITIONS,
    BlankState,
    MovementKind,
    ReservationStatus,
)

__all__ = ["consume", "expire_overdue", "hold", "release", "reserve", "spoil"]

log = logging.getLogger(__name__)

RESERVATIONS = cast(Table, Reservation.__table__)
BLANKS = cast(Table, Blank.__table__)
MOVEMENTS = cast(Table, Movement.__table__)
AUDIT = cast(Table, AuditEvent.__table__)
STOCK = cast(Table, StockLock.__table__)
OVERDUE_BATCH = 500

Row = dict[str, Any]  # a reservation's columns

# Statements built once, executed with dicts of values (no per-call statement building or compiling).
_R = RESERVATIONS.c
_GET = select(RESERVATIONS).where(_R.job_id == bindparam("job_id"))
_GET_FOR_UPDATE = _GET.with_for_update()
_OVERDUE = select(_R.job_id).where(_R.status == ReservationStatus.RESERVED.value, _R.expires_at < bindparam("now"))
_PEEK = select(
    STOCK.c.unused,
    STOCK.c.reserved,
    _OVERDUE.exists(),
    select(_R.job_id).where(_R.job_id == bindparam("p_job_id")).exists(),
).where(STOCK.c.id == ledger.STOCK_ROW)
_PEEK_FOR_UPDATE = _PEEK.with_for_update(of=STOCK)
_INSERT_RESERVATION = insert(RESERVATIONS).values(ledger.bind_all(RESERVATIONS, "r_"))
# Writes back a reservation's changing columns (``u_`` + column).
_WRITE_BACK = (
    update(RESERVATIONS)
    .where(_R.job_id == bindparam("u_job_id"))
    .values(ledger.bind_all(RESERVATIONS, "u_", skip=("job_id", "urgent", "reserved_by", "created_at")))
)
_INSERT_MOVEMENT = insert(MOVEMENTS).values(ledger.bind_all(MOVEMENTS, "m_", skip=("id",)))
_INSERT_AUDIT_1 = insert(AUDIT).values(ledger.bind_all(AUDIT, "a1_", skip=("id",)))
_INSERT_AUDIT_2 = insert(AUDIT).values(ledger.bind_all(AUDIT, "a2_", skip=("id",)))
# The common case of consume/spoil: an available blank no job has touched becomes the card (or waste).
_TAKE_BLANK = (
    update(BLANKS)
    .where(
        BLANKS.c.serial == bindparam("b_serial"),
        BLANKS.c.state == BlankState.AVAILABLE.value,
        BLANKS.c.job_id.is_(None),
    )
    .values(
        state=bindparam("b_state"),
        job_id=bindparam("b_job_id"),
        request_id=func.coalesce(bindparam("b_request_id", type_=BLANKS.c.request_id.type), BLANKS.c.request_id),
        updated_at=bindparam("b_updated_at"),
    )
    .returning(BLANKS.c.tranche_id)
)
# consume/spoil's first statement: take the blank if it is the common case, lock the reservation, and read the
# reorder check's figures — one round trip on PostgreSQL (the blank's UPDATE as a CTE: it runs whatever the
# rest finds, and any refusal after it rolls the whole transaction back). SQLite runs the UPDATE on its own.
_TAKEN = _TAKE_BLANK.cte("taken")
_OPEN_FOR_USE = {
    "postgresql": select(
        RESERVATIONS, select(_TAKEN.c.tranche_id).scalar_subquery().label("taken_tranche"), *ledger.REORDER_COLUMNS
    )
    .where(_R.job_id == bindparam("o_job_id"))
    .with_for_update(of=RESERVATIONS),
    "sqlite": select(RESERVATIONS, *ledger.REORDER_COLUMNS).where(_R.job_id == bindparam("o_job_id")),
}
_RESERVE = ledger.Batch(_INSERT_RESERVATION, _INSERT_MOVEMENT, _INSERT_AUDIT_1, ledger.BUMP)


def _reserve_if_new() -> Any:
    """PostgreSQL's grant in one statement: the reservation unless the job has one (``ON CONFLICT DO NOTHING``),
    and only if it was inserted, its movement, its audit row and one more reserved on the stock row; returns
    the balances and how many were inserted (0: the job reserved meanwhile — the lock's wait can hide a
    commit from the peek's snapshot, never from the unique key)."""
    inserted = (
        pg_insert(RESERVATIONS)
        .values(ledger.bind_all(RESERVATIONS, "r_"))
        .on_conflict_do_nothing(index_elements=[_R.job_id])
        .returning(_R.job_id)
        .cte("inserted")
    )

    def copy(table: Table, prefix: str) -> Any:
        columns = [c for c in table.c if c.name != "id"]
        values = select(*[bindparam(prefix + c.name, type_=c.type) for c in columns]).select_from(inserted)
        return insert(table).from_select([c.name for c in columns], values).cte(f"{prefix}copy")

    count = select(func.count()).select_from(inserted).scalar_subquery()
    return (
        update(STOCK)
        .where(STOCK.c.id == ledger.STOCK_ROW)
        .values(reserved=STOCK.c.reserved + count)
        .returning(STOCK.c.unused, STOCK.c.reserved, count)
        .add_cte(inserted)
        .add_cte(copy(MOVEMENTS, "m_"))
        .add_cte(copy(AUDIT, "a1_"))
    )


_RESERVE_IF_NEW = _reserve_if_new()
# The reservation, the blank's movement and both audit rows, the day's usage and (the main statement, run first
# on PostgreSQL) the stock row: the only statement of consume/spoil that touches a row every job shares.
_USE = {
    name: ledger.Batch(_WRITE_BACK, _INSERT_MOVEMENT, _INSERT_AUDIT_1, _INSERT_AUDIT_2, upsert, ledger.BUMP)
    for name, upsert in ledger.USAGE_UPSERT.items()
}
_USE_RECORDED = ledger.Batch(_WRITE_BACK, _INSERT_AUDIT_1, ledger.BUMP)  # the ledger wrote the blank's part
_RELEASE = ledger.Batch(_WRITE_BACK, _INSERT_MOVEMENT, _INSERT_AUDIT_1, ledger.BUMP)
_HOLD = ledger.Batch(_WRITE_BACK, _INSERT_AUDIT_1)


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


async def _get(session: AsyncSession, job_id: str, *, for_update: bool = False) -> Row | None:
    connection = await session.connection()
    row = (await connection.execute(_GET_FOR_UPDATE if for_update else _GET, {"job_id": job_id})).first()
    return row._asdict() if row is not None else None


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
    connection = await session.connection()
    query = (
        select(RESERVATIONS)
        .where(RESERVATIONS.c.status == ReservationStatus.RESERVED.value, RESERVATIONS.c.expires_at < now)
        .order_by(RESERVATIONS.c.expires_at)
        .limit(OVERDUE_BATCH)
        .with_for_update(skip_locked=True)
    )
    overdue = [row._asdict() for row in await connection.execute(query)]
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
    await connection.execute(
        update(RESERVATIONS)
        .where(RESERVATIONS.c.job_id.in_(jobs))
        .values(status=ReservationStatus.EXPIRED.value, updated_at=now)
    )
    await connection.execute(insert(Movement), movements)
    await connection.execute(insert(AuditEvent), audits)
    await connection.execute(ledger.bump_counters(reserved=-len(jobs)))
    return jobs


async def _lock_stock_and_peek(
    session: AsyncSession, now: dt.datetime, job_id: str
) -> tuple[ledger.StockCounters, bool, bool]:
    """Lock the stock row; its balances, whether any reservation is overdue and whether the job has one, in one
    round trip."""
    query = _PEEK_FOR_UPDATE if ledger.is_postgres(session) else _PEEK
    row = (await (await session.connection()).execute(query, {"now": now, "p_job_id": job_id})).one()
    return ledger.StockCounters(row[0], row[1]), bool(row[2]), bool(row[3])


async def reserve(session: AsyncSession, settings: Settings, principal: Principal, body: ReserveIn) -> tuple[Row, bool]:
    """The job's reservation, and whether it was made now (False: the same job asked again)."""
    now = utcnow()
    # The stock lock is held from here to the commit: grants are counted one at a time.
    counters, overdue, known = await _lock_stock_and_peek(session, now, body.job_id)
    if overdue:  # lazy expiry: only when the index says one is due (the sweeper does the rest)
        counters.reserved -= len(await expire_overdue(session, now))
    if known and (existing := await _get(session, body.job_id)) is not None:
        return existing, False
    kept = ledger_service.urgent_reserve(settings, counters.unused)
    floor = 0 if body.urgent else kept
    available = counters.available
    if available - 1 < floor:
        if (existing := await _get(session, body.job_id)) is not None:  # reserved while this call waited
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
    if ledger.is_postgres(session):
        row = (await (await session.connection()).execute(_RESERVE_IF_NEW, values)).one()
        if not row[2] and (existing := await _get(session, body.job_id)) is not None:
            return existing, False
    else:  # one writer at a time: the peek saw everything
        await _RESERVE.run(session, values)
    return reservation, True


async def _open(session: AsyncSession, job_id: str) -> Row:
    reservation = await _get(session, job_id, for_update=True)
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
    connection = await session.connection()
    if ledger.is_postgres(session):
        found = (await connection.execute(_OPEN_FOR_USE["postgresql"], values)).first()
        r = found._asdict() if found is not None else None
        tranche_id = r.pop("taken_tranche") if r is not None else None
    else:
        tranche_id = (await connection.execute(_TAKE_BLANK, values)).scalar()
        found = (await connection.execute(_OPEN_FOR_USE["sqlite"], values)).first()
        r = found._asdict() if found is not None else None
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
        await _USE_RECORDED.run(session, values)
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
        await _USE["postgresql" if ledger.is_postgres(session) else "sqlite"].run(session, values)
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
    await _RELEASE.run(session, values)
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
    await _HOLD.run(session, values)
    return r
