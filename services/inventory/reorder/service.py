"""Rules of reordering: the consumption rate, the reorder point, automatic drafts, proposals' states, forecast.

Rate = blanks used (consumed + spoiled) in the last ``reorder_window_days`` / window days.
Reorder point = rate x (lead time + safety days), rounded up. When the available blanks (unused minus
reserved) are at or below it and no proposal is open, a proposal is drafted, once.
"""

from __future__ import annotations

import datetime as dt
import math

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.models import utcnow
from services.common.problems import Conflict, NotFound
from services.inventory.config import Settings
from services.inventory.dependencies import auditor
from services.inventory.ledger import repository as ledger
from services.inventory.models import ReorderProposal
from services.inventory.reorder import repository
from services.inventory.reorder.schemas import Forecast, ProposalIn, ProposalOut
from services.inventory.states import PROPOSAL_TRANSITIONS, ProposalState, check_transition

__all__ = [
    "Rate",
    "apply_transition",
    "draft",
    "forecast",
    "maybe_draft",
    "measure",
    "proposal_for_tranche",
    "reorder_window",
    "transition",
]


class Rate:
    """The measured consumption and the reorder point it gives."""

    def __init__(self, settings: Settings, used: int) -> None:
        self.window_days = settings.reorder_window_days
        self.used = used
        self.per_day = used / settings.reorder_window_days
        horizon = settings.reorder_lead_time_days + settings.reorder_safety_days
        # Integer arithmetic: the point must not move by a float's rounding.
        self.reorder_point = -(-used * horizon // settings.reorder_window_days)
        self.proposed_quantity = max(
            settings.reorder_min_quantity, math.ceil(self.per_day * settings.reorder_cover_days)
        )


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
    proposal = ReorderProposal(
        state=ProposalState.DRAFT.value,
        quantity=rate.proposed_quantity,
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
    check_transition(PROPOSAL_TRANSITIONS, current, target)
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


async def forecast(
    session: AsyncSession, settings: Settings, backlog: int | None, backlog_note: str | None
) -> Forecast:
    """Days of cover and stock-out date at the measured rate, with the request service's backlog beside them."""
    now = utcnow()
    rate = await measure(session, settings, now)
    unused = await ledger.count_unused(session)
    reserved = await ledger.count_open_reservations(session)
    available = unused - reserved
    days: float | None = None
    stock_out: dt.date | None = None
    if rate.per_day > 0:
        days = round(available / rate.per_day, 2)
        stock_out = (now + dt.timedelta(days=available / rate.per_day)).date()
    proposal = await repository.open_proposal(session)
    return Forecast(
        window_days=rate.window_days,
        used_in_window=rate.used,
        rate_per_day=round(rate.per_day, 4),
        available=available,
        reserved=reserved,
        reorder_point=rate.reorder_point,
        below_reorder_point=rate.used > 0 and available <= rate.reorder_point,
        days_of_cover=days,
        projected_stock_out_on=stock_out,
        backlog=backlog,
        backlog_covered=None if backlog is None else available >= backlog,
        backlog_note=backlog_note,
        open_proposal=ProposalOut.model_validate(proposal) if proposal else None,
    )
