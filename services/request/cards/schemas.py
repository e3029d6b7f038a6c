"""What clients send and receive about printed cards."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.request.cards.states import CardStatus

__all__ = ["CardOut", "SurrenderIn"]


class CardOut(BaseModel):
    """A printed card by serial: whether it is valid and, once replaced, which request (and card) took over."""

    serial: str
    status: CardStatus
    valid: bool = Field(description="printed, activated or collected: any other status makes the serial invalid")
    request_id: str
    printed_at: dt.datetime
    updated_at: dt.datetime
    status_note: str | None = None
    replaced_by_request_id: str | None = Field(default=None, description="the replacement request")
    replaced_by_serial: str | None = Field(default=None, description="the replacement's card, once printed")
    police_report: str | None = None
    surrendered_at: dt.datetime | None = None
    surrender_received_by: str | None = None


class SurrenderIn(BaseModel):
    """``POST /v1/cards/{serial}/surrender``: the old card handed in at the office (it goes to the inventory)."""

    model_config = ConfigDict(extra="forbid")

    received_by: Annotated[str, Field(min_length=1, max_length=120, description="the officer who took the card")]
    note: Annotated[str | None, Field(max_length=300)] = None
