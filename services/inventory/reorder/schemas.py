"""Bodies of reorder proposals and the forecast."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Forecast", "ProposalIn", "ProposalOut", "ProposalTransitionIn"]


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
    """How long the stock lasts at the measured rate, and whether it covers the request service's backlog."""

    window_days: int
    used_in_window: int = Field(description="Blanks consumed or spoiled in the window.")
    rate_per_day: float
    available: int
    reserved: int
    reorder_point: int
    below_reorder_point: bool
    days_of_cover: float | None = Field(description="available / rate; null while nothing has been used.")
    projected_stock_out_on: dt.date | None
    backlog: int | None = Field(description="Requests queued at the request service; null if it did not answer.")
    backlog_covered: bool | None = Field(description="Whether the available blanks cover the queued requests.")
    backlog_note: str | None
    open_proposal: ProposalOut | None
