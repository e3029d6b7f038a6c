"""Rules of reordering: the consumption rate, the reorder point, automatic drafts, proposals' states, forecast.

Rate = blanks used (consumed + spoiled) in the last ``reorder_window_days`` / window days.
Reorder point = rate x (lead time + safety days), rounded up. When the available blanks (unused minus
reserved) are at or below it and no proposal is open, a proposal is drafted, once.

Forecast (``project``): the request service's backlog is demand already known, so it is spent first: the queued
cards are printed at the printers' speed (the larger of the daily capacity the request service reports and the
measured rate), and whatever stock is left then lasts at the measured rate. The stock-out date is where the
available blanks run out on that path; ``shortfall`` is how many blanks the queue needs beyond the stock.
A proposal's quantity (``Rate.proposal_quantity``) covers the blanks missing when a delivery ordered today
arrives (backlog + lead-time demand - available, if positive) plus ``reorder_cover_days`` of consumption.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.models import utcnow
from services.common.office_hours import OfficeCalendar
from services.common.problems import Conflict, NotFound
from services.common.states import check_transition
from services.inventory.clients.requests import Backlog
from services.inventory.config import Settings
from services.inventory.dependencies import auditor
from services.inventory.ledger import repository as ledger
from services.inventory.models import ReorderProposal
from services.inventory.reorder import repository
from services.inventory.reorder.schemas import Forecast, ProjectionBasis, ProposalIn, ProposalOut
from services.inventory.states import PROPOSAL_TRANSITIONS, ProposalState

__all__ = [
    "Projection",
    "Rate",
    "apply_transition",
    "draft",
    "forecast",
    "maybe_draft",
    "measure",
    "project",
    "proposal_for_tranche",
    "reorder_window",
    "transition",
]


class Rate:
    """The measured consumption and the reorder point it gives."""

    def __init__(self, settings: Settings, used: int) -> None:
        self.settings = settings
        self.window_days = settings.reorder_window_days
        self.used = used
        self.per_day = used / settings.reorder_window_days
        self.reorder_point = self.demand(settings.reorder_lead_time_days + settings.reorder_safety_days)

    def demand(self, days: int) -> int:
        """Blanks used in ``days`` at this rate, rounded up: integer arithmetic, so that a float's rounding never
        moves the reorder point or a quantity by one."""
        return -(-self.used * days // self.window_days)

    def deficit_at_delivery(self, available: int, backlog: int = 0) -> int:
        """Blanks missing when a delivery ordered now arrives: the queue plus the lead time's demand, less the
        stock."""
        return max(0, backlog + self.demand(self.settings.reorder_lead_time_days) - max(available, 0))

    def proposal_quantity(self, available: int, backlog: int = 0) -> int:
        """What a proposal drafted now should ask for: the deficit at delivery plus ``reorder_cover_days`` of
        consumption, at least ``reorder_min_quantity``."""
        cover = self.demand(self.settings.reorder_cover_days)
        return max(self.settings.reorder_min_quantity, cover + self.deficit_at_delivery(available, backlog))


async def measure(session: AsyncSession, settings: Settings, now: dt.datetime | None = None) -> Rate:
    now = now or utcnow()
    used = await ledger.usage_since(session, now - dt.timedelta(days=settings.reorder_window_days))
    return Rate(settings, used)


def _snapshot(p: ReorderProposal) -> dict[str, object]:
    return {"state": p.state, "quantity": p.quantity}


def reorder_window(settings: Settings) -> dt.datetime:
    """Where the consumption window starts now."""
    return utcnow() - dt.timedelta(days=settings.reorder_window_days)


def _at_point(
    settings: Settings, used: int, counters: ledger.StockCounters, pending: tuple[int, int, int]
) -> tuple[Rate | None, int, int]:
    """The rate if the available blanks (after ``pending``) are at or below the reorder point, else None."""
    rate = Rate(settings, used + pending[2])
    reserved = counters.reserved + pending[1]
    available = counters.unused + pending[0] - reserved
    if rate.used == 0 or available > rate.reorder_point:
        return None, available, reserved
    return rate, available, reserved


async def maybe_draft(
    session: AsyncSession,
    settings: Settings,
    principal: Principal,
    pending: tuple[int, int, int] = (0, 0, 0),
    checked: ledger.ReorderFigures | None = None,
) -> ReorderProposal | None:
    """Draft a proposal if the stock is at the reorder point and none is open; called after blanks are used.

    ``pending``: ``(unused, reserved, used)`` changes this transaction is about to write (the reservation calls
    check before they touch the stock row, so that they hold its lock for as short a time as they can); other
    callers have written everything already. The balances are read without a lock, as a reorder point is a
    month's average: a draft decided one blank early or late is the same draft. ``checked``: the figures, when
    the caller's own query read them already (``ledger.REORDER_COLUMNS`` with ``reorder_window(settings)``)."""
    since = reorder_window(settings)
    if checked is None:
        await session.flush()
        checked = await ledger.reorder_check(session, since)
    is_open, used, counters = checked
    if is_open:
        return None
    rate, available, reserved = _at_point(settings, used, counters, pending)
    if rate is None:
        return None
    # Drafting (rare): under the stock lock, and asked again, so that two used blanks never draft twice.
    await session.flush()
    await ledger.lock_stock(session)
    is_open, used, counters = await ledger.reorder_check(session, since)
    rate, available, reserved = _at_point(settings, used, counters, pending)
    if is_open or rate is None:
        return None
    # Sized without the request service's backlog: this runs inside a reservation call, which must not wait on
    # another service. GET /v1/forecast gives the size with the backlog (``suggested_quantity``).
    proposal = ReorderProposal(
        state=ProposalState.DRAFT.value,
        quantity=rate.proposal_quantity(available),
        automatic=True,
        basis={
            "available": available,
            "reserved": reserved,
            "used_in_window": rate.used,
            "window_days": rate.window_days,
            "rate_per_day": rate.per_day,
            "reorder_point": rate.reorder_point,
            "lead_time_days": settings.reorder_lead_time_days,
            "safety_days": settings.reorder_safety_days,
            "cover_days": settings.reorder_cover_days,
            "deficit_at_delivery": rate.deficit_at_delivery(available),
        },
        note="drafted automatically: the available blanks reached the reorder point",
        created_by=principal.subject,
    )
    session.add(proposal)
    await session.flush()
    auditor.record(session, principal, "proposal.drafted", "proposal", proposal.id, after=_snapshot(proposal))
    return proposal


async def draft(session: AsyncSession, principal: Principal, body: ProposalIn) -> ReorderProposal:
    proposal = ReorderProposal(
        state=ProposalState.DRAFT.value,
        quantity=body.quantity,
        automatic=False,
        basis={},
        note=body.note,
        created_by=principal.subject,
    )
    session.add(proposal)
    await session.flush()
    auditor.record(session, principal, "proposal.drafted", "proposal", proposal.id, after=_snapshot(proposal))
    return proposal


async def transition(
    session: AsyncSession, principal: Principal, proposal_id: str, target: ProposalState, note: str | None = None
) -> ReorderProposal:
    proposal = await repository.get(session, proposal_id, for_update=True)
    if proposal is None:
        raise NotFound(f"no proposal {proposal_id}", kind="proposal-unknown")
    return apply_transition(session, principal, proposal, target, note)


def apply_transition(
    session: AsyncSession, principal: Principal, proposal: ReorderProposal, target: ProposalState, note: str | None
) -> ReorderProposal:
    current = ProposalState(proposal.state)
    if current is target:
        return proposal  # a retried transition is an answer, not a conflict
    check_transition(PROPOSAL_TRANSITIONS, current, target, thing="proposal", kind=f"proposal-{current.value}")
    before = _snapshot(proposal)
    proposal.state = target.value
    proposal.updated_at = utcnow()
    if note:
        proposal.note = note
    auditor.record(
        session,
        principal,
        f"proposal.{target.value}",
        "proposal",
        proposal.id,
        before=before,
        after=_snapshot(proposal),
    )
    return proposal


async def proposal_for_tranche(session: AsyncSession, principal: Principal, proposal_id: str) -> ReorderProposal:
    """The proposal a tranche delivers against: approved (it becomes shipped) or already shipped."""
    proposal = await repository.get(session, proposal_id, for_update=True)
    if proposal is None:
        raise Conflict(f"no proposal {proposal_id}", kind="proposal-unknown", proposal_id=proposal_id)
    state = ProposalState(proposal.state)
    if state is ProposalState.APPROVED:
        apply_transition(session, principal, proposal, ProposalState.SHIPPED, None)
    elif state is not ProposalState.SHIPPED:
        raise Conflict(
            f"proposal {proposal_id} is {state.value}: only an approved or shipped proposal receives tranches",
            kind="proposal-not-approved",
            state=state.value,
        )
    return proposal


@dataclass(frozen=True, slots=True)
class Projection:
    """Where the stock runs out, from the available blanks, the known backlog and the measured rate.

    ``days``: until the available blanks are gone (None: no stock-out in sight, or no speed to reckon it with);
    ``shortfall``: blanks the queue needs beyond the stock (None: backlog unknown); ``days_to_clear_backlog``:
    printing time of the queue at the printers' speed, as if the stock sufficed; ``basis``: which case applied;
    ``note``: the same in a sentence; ``printing_days``: the part of ``days`` the printers spend on the queue,
    which passes in working days (the rest passes at the rate, in calendar days)."""

    days: float | None
    shortfall: int | None
    days_to_clear_backlog: float | None
    basis: ProjectionBasis
    note: str
    printing_days: float = 0.0

    def stock_out_on(self, calendar: OfficeCalendar, now: dt.datetime) -> dt.date | None:
        """The office date (WIB) the stock runs out: the queue's printing counted in working days and office
        hours (holidays skipped), then the rest in calendar days."""
        if self.days is None:
            return None
        rest = dt.timedelta(days=round(max(self.days - self.printing_days, 0.0), 6))  # 25.3 - 0.3 is not 25
        if self.printing_days <= 0:
            return calendar.local_date(now + rest)
        return calendar.date_after_working_days(now, self.printing_days) + dt.timedelta(days=rest.days)


def _n(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.2f}"


def project(available: int, per_day: float, backlog: int | None, daily_capacity: int | None) -> Projection:
    """The forecast's arithmetic (pure; the module's docstring states the model).

    The queue is printed at ``max(per_day, daily_capacity)`` blanks a day: the printers take queued cards as
    fast as they can, and they have printed at least the measured rate. Without a capacity and a rate the
    queue's speed is unknown. An unknown backlog counts as none (the plain ``available / per_day``)."""
    available = max(available, 0)
    queued = backlog or 0
    speed = max(per_day, float(daily_capacity or 0))
    shortfall = None if backlog is None else max(0, queued - available)
    clear = round(queued / speed, 2) if queued and speed > 0 else (0.0 if backlog == 0 else None)
    if available == 0:
        note = "no blank is available"
        if queued:
            note += f": the {queued} queued cards wait for a delivery"
        return Projection(0.0, shortfall, clear, "empty", note)
    if queued >= available:  # the known queue alone uses the stock up
        if speed <= 0:
            note = (
                f"the {queued} queued cards need {queued - available} blanks more than the {available} available; "
                "when they run out is unknown (no consumption measured and no printing capacity reported)"
            )
            return Projection(None, shortfall, None, "unknown", note)
        days = available / speed
        note = (
            f"the {queued} queued cards use up the {available} available blanks in {_n(round(days, 2))} days "
            f"at {_n(round(speed, 2))} a day"
        )
        if queued > available:
            note += f", {queued - available} cards short"
        return Projection(days, shortfall, clear, "backlog", note, printing_days=days)
    left = available - queued
    if per_day <= 0:
        note = "no stock-out in sight: nothing was used in the window"
        if queued:
            note = f"the {queued} queued cards are covered, leaving {left} blanks; " + note
        return Projection(None, shortfall, clear, "no_demand", note)
    if queued:
        days = queued / speed + left / per_day
        note = (
            f"the {queued} queued cards are covered (printed in {_n(clear or 0.0)} days at {_n(round(speed, 2))} "
            f"a day); the {left} blanks left then last {_n(round(left / per_day, 2))} days at "
            f"{_n(round(per_day, 2))} a day"
        )
        return Projection(days, shortfall, clear, "backlog_then_rate", note, printing_days=queued / speed)
    days = available / per_day
    note = f"the {available} available blanks last {_n(round(days, 2))} days at {_n(round(per_day, 2))} a day"
    if backlog is None:
        note += " (the backlog is unknown)"
    return Projection(days, shortfall, clear, "rate", note)


async def forecast(session: AsyncSession, settings: Settings, backlog: Backlog) -> Forecast:
    """Days of cover, stock-out date, shortfall and the suggested order, from the stock, the measured rate and
    the request service's backlog (``project``)."""
    now = utcnow()
    rate = await measure(session, settings, now)
    unused = await ledger.count_unused(session)
    reserved = await ledger.count_open_reservations(session)
    available = unused - reserved
    projection = project(available, rate.per_day, backlog.queued, backlog.daily_capacity)
    calendar = OfficeCalendar.from_settings(settings)
    stock_out = projection.stock_out_on(calendar, now)
    note = projection.note
    lead_time = dt.timedelta(days=settings.reorder_lead_time_days)
    if stock_out is not None and stock_out < calendar.local_date(now) + lead_time:
        note += f"; that is before a delivery ordered today arrives ({settings.reorder_lead_time_days} days)"
    proposal = await repository.open_proposal(session)
    return Forecast(
        window_days=rate.window_days,
        used_in_window=rate.used,
        rate_per_day=round(rate.per_day, 4),
        available=available,
        reserved=reserved,
        reorder_point=rate.reorder_point,
        below_reorder_point=rate.used > 0 and available <= rate.reorder_point,
        days_of_cover=None if projection.days is None else round(projection.days, 2),
        projected_stock_out_on=stock_out,
        projection=projection.basis,
        projection_note=note,
        backlog=backlog.queued,
        backlog_covered=None if backlog.queued is None else available >= backlog.queued,
        backlog_note=backlog.note,
        shortfall=projection.shortfall,
        daily_capacity=backlog.daily_capacity,
        days_to_clear_backlog=projection.days_to_clear_backlog,
        suggested_quantity=rate.proposal_quantity(available, backlog.queued or 0),
        open_proposal=ProposalOut.model_validate(proposal) if proposal else None,
    )
