"""Rules of the ledger: a blank's state changes, derived balances, the invariant, spoilage and adjustments.

Every change writes a movement and an audit row in the caller's transaction; nothing here commits.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.models import utcnow
from services.common.problems import Conflict, NotFound
from services.inventory.config import Settings
from services.inventory.dependencies import auditor
from services.inventory.ledger import repository
from services.inventory.ledger.schemas import (
    AdjustmentIn,
    BlankOut,
    Custody,
    Invariant,
    MovementOut,
    SpoilageIn,
    Stock,
    TrancheBalance,
    TrancheInvariant,
)
from services.inventory.models import Blank, Movement
from services.inventory.reorder import service as reorder
from services.inventory.states import (
    BLANK_TRANSITIONS,
    AdjustmentAction,
    BlankState,
    MovementKind,
    ReservationStatus,
)

__all__ = [
    "adjust",
    "available_now",
    "custody",
    "invariant",
    "record_spoilage",
    "stock",
    "take_blank",
    "urgent_reserve",
]


def urgent_reserve(settings: Settings, unused: int) -> int:
    """Blanks kept for urgent jobs: the configured count or share of the unused blanks, whichever is larger."""
    return max(settings.urgent_reserve_count, math.ceil(settings.urgent_reserve_share * unused))


async def available_now(session: AsyncSession) -> tuple[int, int, int]:
    """``(available, unused, reserved)``: available = unused blanks not counted by an open reservation.

    Read from the running balances on the stock row, locking it (PostgreSQL) until the commit."""
    counters = await repository.lock_stock(session)
    return counters.available, counters.unused, counters.reserved


def _serial_problem_kind(current: BlankState) -> str:
    return "serial-" + current.value.replace("_", "-")


async def take_blank(
    session: AsyncSession,
    principal: Principal,
    serial: str,
    target: BlankState,
    *,
    kind: MovementKind,
    job_id: str | None = None,
    request_id: str | None = None,
    printer_id: str | None = None,
    reason: str | None = None,
    witness: str | None = None,
) -> tuple[Blank, Movement]:
    """Move the blank ``serial`` to ``target`` with its movement and audit row; 409 naming why it cannot.

    The running balances follow: one unused fewer when an available blank leaves the shelf, one more when a
    written-off blank comes back; a consumed or spoiled blank counts as used that day."""
    blank = await repository.get_blank(session, serial, for_update=True)
    if blank is None:
        raise Conflict(f"serial {serial} was never received", kind="serial-unknown", serial=serial)
    current = BlankState(blank.state)
    if target not in BLANK_TRANSITIONS[current]:
        detail = f"serial {serial} is {current.value.replace('_', ' ')}"
        if blank.job_id:
            detail += f" (job {blank.job_id})"
        raise Conflict(detail, kind=_serial_problem_kind(current), serial=serial, state=current.value)
    before = {"state": blank.state, "job_id": blank.job_id}
    now = utcnow()
    blank.state = target.value
    blank.updated_at = now
    if job_id is not None:
        blank.job_id = job_id
    if request_id is not None:
        blank.request_id = request_id
    movement = repository.add_movement(
        session,
        kind=kind,
        actor=principal.subject,
        at=now,
        serial=serial,
        tranche_id=blank.tranche_id,
        job_id=job_id,
        request_id=request_id,
        printer_id=printer_id,
        reason=reason,
        witness=witness,
        from_state=current.value,
        to_state=target.value,
    )
    auditor.record(
        session,
        principal,
        f"blank.{target.value}",
        "blank",
        serial,
        before=before,
        after={"state": blank.state, "job_id": blank.job_id, "reason": reason, "witness": witness},
    )
    delta = (target is BlankState.AVAILABLE) - (current is BlankState.AVAILABLE)
    if target in (BlankState.CONSUMED, BlankState.SPOILED):  # from available: one unused fewer, one used
        batch = repository.USE_BLANK["postgresql" if repository.is_postgres(session) else "sqlite"]
        await batch.run(session, {"d_unused": delta, "d_reserved": 0, "g_day": now.date(), "g_used": 1})
    elif delta:
        await repository.execute_together(session, [repository.bump_counters(unused=delta)])
    return blank, movement


async def _ensure_one_unreserved(session: AsyncSession) -> None:
    available, _, reserved = await available_now(session)
    if available < 1:
        raise Conflict(
            f"every unused blank is counted by one of {reserved} open reservations: "
            "record this on the job's reservation instead",
            kind="blanks-all-reserved",
            available=available,
            reserved=reserved,
        )


async def record_spoilage(session: AsyncSession, settings: Settings, principal: Principal, body: SpoilageIn) -> Blank:
    """A blank spoiled outside a reservation; it must be an unused one not counted by a reservation."""
    # Locks in the one order every writer takes them: reservation, blank, stock row (no deadlocks).
    await repository.get_blank(session, body.serial, for_update=True)
    await _ensure_one_unreserved(session)
    blank, _ = await take_blank(
        session,
        principal,
        body.serial,
        BlankState.SPOILED,
        kind=MovementKind.SPOILED,
        printer_id=body.printer_id,
        reason=body.reason.value,
        witness=body.witness,
    )
    await reorder.maybe_draft(session, settings, principal)
    return blank


async def adjust(session: AsyncSession, settings: Settings, principal: Principal, body: AdjustmentIn) -> Blank:
    """An admin's correction, as a new ledger entry with its reason."""
    await repository.get_blank(session, body.serial, for_update=True)  # the blank before the stock row
    await repository.lock_stock(session)
    if body.action is AdjustmentAction.WRITE_OFF:
        await _ensure_one_unreserved(session)
        target = BlankState.WRITTEN_OFF
    else:
        target = BlankState.AVAILABLE
    blank, _ = await take_blank(
        session,
        principal,
        body.serial,
        target,
        kind=MovementKind.ADJUSTMENT,
        reason=body.reason,
        witness=body.witness,
    )
    if target is BlankState.WRITTEN_OFF:
        await reorder.maybe_draft(session, settings, principal)
    return blank


async def custody(session: AsyncSession, serial: str) -> Custody:
    blank = await repository.get_blank(session, serial)
    if blank is None:
        raise NotFound(f"serial {serial} was never received", kind="serial-unknown")
    movements = await repository.custody_movements(session, blank)
    references = {t[0]: t[1] for t in await repository.tranche_totals(session)}
    return Custody(
        blank=BlankOut.model_validate(blank),
        tranche_reference=references.get(blank.tranche_id, ""),
        movements=[MovementOut.model_validate(m) for m in movements],
    )


async def _tranche_balances(session: AsyncSession) -> tuple[list[TrancheBalance], Sequence[tuple[str, str, int]]]:
    tranches = await repository.tranche_totals(session)
    blanks = await repository.blank_counts(session)
    balances = []
    for tranche_id, reference, _count in tranches:
        by_state = {s: blanks.get((tranche_id, s.value), 0) for s in BlankState}
        balances.append(
            TrancheBalance(
                tranche_id=tranche_id,
                reference=reference,
                received=sum(by_state.values()),
                unused=by_state[BlankState.AVAILABLE],
                consumed=by_state[BlankState.CONSUMED],
                spoiled=by_state[BlankState.SPOILED],
                written_off=by_state[BlankState.WRITTEN_OFF],
            )
        )
    return balances, tranches


async def stock(session: AsyncSession, settings: Settings) -> Stock:
    balances, _ = await _tranche_balances(session)
    reserved = await repository.count_open_reservations(session)
    unused = sum(b.unused for b in balances)
    available = unused - reserved
    reserve = urgent_reserve(settings, unused)
    return Stock(
        received=sum(b.received for b in balances),
        available=available,
        reserved=reserved,
        consumed=sum(b.consumed for b in balances),
        spoiled=sum(b.spoiled for b in balances),
        written_off=sum(b.written_off for b in balances),
        urgent_reserve=reserve,
        available_to_regular=max(0, available - reserve),
        tranches=balances,
    )


async def invariant(session: AsyncSession) -> Invariant:
    """Check the tranches, the blanks' states and the replayed movements against each other."""
    balances, tranches = await _tranche_balances(session)
    ledger = await repository.ledger_counts(session)
    declared = {t[0]: t[2] for t in tranches}
    reserved = await repository.count_open_reservations(session)
    problems: list[str] = []
    rows: list[TrancheInvariant] = []
    for b in balances:
        own: list[str] = []
        replayed = {k: ledger.get((b.tranche_id, k), 0) for k in ("received", "consumed", "spoiled", "written_off")}
        replayed_unused = replayed["received"] - replayed["consumed"] - replayed["spoiled"] - replayed["written_off"]
        if b.received != declared[b.tranche_id]:
            own.append(f"tranche {b.reference}: {b.received} blanks on record, {declared[b.tranche_id]} declared")
        for name in ("received", "consumed", "spoiled", "written_off"):
            if getattr(b, name) != replayed[name]:
                own.append(f"tranche {b.reference}: {name} is {getattr(b, name)} by state, {replayed[name]} by ledger")
        if b.unused != replayed_unused:
            own.append(f"tranche {b.reference}: unused is {b.unused} by state, {replayed_unused} by ledger")
        if b.received != b.unused + b.consumed + b.spoiled + b.written_off:
            own.append(f"tranche {b.reference}: received != unused + consumed + spoiled + written_off")
        problems.extend(own)
        rows.append(TrancheInvariant(**b.model_dump(), holds=not own))
    unused = sum(b.unused for b in balances)
    available = unused - reserved
    if available < 0:
        problems.append(f"{reserved} open reservations but only {unused} unused blanks (oversold)")
    consumed = sum(b.consumed for b in balances)
    consumed_by_jobs = await repository.count_reservations(session, ReservationStatus.CONSUMED)
    if consumed_by_jobs != consumed:
        problems.append(f"{consumed} blanks consumed but {consumed_by_jobs} reservations consumed")
    # The running balances must equal what they summarise: the blanks' states, the replayed movements and the
    # open reservations (a drift here would let grants oversell or refuse wrongly).
    counters = await repository.read_counters(session)
    replayed_unused = sum(
        ledger.get((b.tranche_id, "received"), 0)
        - sum(ledger.get((b.tranche_id, k), 0) for k in ("consumed", "spoiled", "written_off"))
        for b in balances
    )
    if counters.unused != unused:
        problems.append(f"stock counter: {counters.unused} unused, {unused} blanks available by state")
    if counters.unused != replayed_unused:
        problems.append(f"stock counter: {counters.unused} unused, {replayed_unused} by ledger")
    if counters.reserved != reserved:
        problems.append(f"stock counter: {counters.reserved} reserved, {reserved} open reservations")
    used_by_day = await repository.count_usage_days(session, None)
    used_by_ledger = sum(ledger.get((b.tranche_id, k), 0) for b in balances for k in ("consumed", "spoiled"))
    if used_by_day != used_by_ledger:
        problems.append(f"usage by day: {used_by_day} blanks used, {used_by_ledger} by ledger")
    return Invariant(
        holds=not problems,
        received=sum(b.received for b in balances),
        available=available,
        reserved=reserved,
        consumed=consumed,
        spoiled=sum(b.spoiled for b in balances),
        written_off=sum(b.written_off for b in balances),
        counters={"unused": counters.unused, "reserved": counters.reserved, "used": used_by_day},
        tranches=rows,
        problems=problems,
    )
