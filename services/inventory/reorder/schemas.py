"""Bodies of reorder proposals and the forecast."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Forecast", "ProjectionBasis", "ProposalIn", "ProposalOut", "ProposalTransitionIn"]

ProjectionBasis = Literal["empty", "rate", "backlog", "backlog_then_rate", "no_demand", "unknown"]


class ProposalOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    state: str
    quantity: int
    automatic: bool
    basis: dict[str, Any]
    note: str | None
    created_by: str
    created_at: dt.datetime
    updated_at: dt.datetime


class ProposalIn(BaseModel):
    """A proposal drafted by hand (the automatic one is drafted at the reorder point)."""

    quantity: int = Field(gt=0, le=1_000_000)
    note: str | None = Field(default=None, max_length=2000)


class ProposalTransitionIn(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


class Forecast(BaseModel):
    """When the stock runs out and what to order: the available blanks spent first on the request service's backlog
    (printed at the printers' speed), then at the measured rate (``services.inventory.reorder.service``)."""

    window_days: int
    used_in_window: int = Field(description="Blanks consumed or spoiled in the window.")
    rate_per_day: float = Field(description="used_in_window / window_days.")
    available: int
    reserved: int
    reorder_point: int
    below_reorder_point: bool
    days_of_cover: float | None = Field(
        description="Days until the available blanks run out: the backlog first, at the printers' speed, then the "
        "rate (available / rate when nothing is queued or the backlog is unknown). Null when no stock-out is in "
        "sight (nothing used and the queue covered) or its speed is unknown (see projection)."
    )
    projected_stock_out_on: dt.date | None = Field(
        description="The office date (WIB) the stock runs out: the queue's printing counted in working days and "
        "office hours (public holidays skipped), the rest of days_of_cover in calendar days."
    )
    projection: ProjectionBasis = Field(
        description="How the stock-out was projected: empty (nothing available), rate (no queue known), backlog "
        "(the queue alone uses the stock up), backlog_then_rate (the queue is covered, the rest lasts at the "
        "rate), no_demand (the queue is covered and nothing was used in the window), unknown (the queue uses "
        "the stock up but neither a rate nor the printers' capacity is known)."
    )
    projection_note: str = Field(description="The projection in one sentence, for an office.")
    backlog: int | None = Field(description="Requests queued at the request service; null if it did not answer.")
    backlog_covered: bool | None = Field(description="Whether the available blanks cover the queued requests.")
    backlog_note: str | None
    shortfall: int | None = Field(
        description="Blanks the queued requests need beyond the available ones: max(0, backlog - available); null "
        "if the backlog is unknown."
    )
    daily_capacity: int | None = Field(description="Cards a day the printers print, as the request service says.")
    days_to_clear_backlog: float | None = Field(
        description="backlog / max(rate, daily_capacity): printing time of the queue if blanks suffice; null if "
        "the backlog or any speed is unknown."
    )
    suggested_quantity: int = Field(
        description="What a proposal drafted now should ask for: max(0, backlog + lead-time demand - available) + "
        "reorder_cover_days of consumption, at least reorder_min_quantity (an unknown backlog counts as 0)."
    )
    open_proposal: ProposalOut | None
