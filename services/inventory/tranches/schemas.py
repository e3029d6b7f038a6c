"""Bodies of tranches: a delivery of blanks as ranges of serials."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from services.inventory.ledger.schemas import SERIAL_PATTERN

__all__ = ["SerialRange", "TrancheIn", "TrancheOut"]


class SerialRange(BaseModel):
    """``first`` to ``last`` inclusive, one prefix and one width: ``KTP00000001`` – ``KTP00008016``."""

    first: str = Field(pattern=SERIAL_PATTERN, max_length=32)
    last: str = Field(pattern=SERIAL_PATTERN, max_length=32)


class TrancheIn(BaseModel):
    reference: str = Field(min_length=1, max_length=100, description="The centre's delivery reference.")
    proposal_id: str | None = Field(default=None, max_length=36)
    received_on: dt.date
    ranges: list[SerialRange] = Field(min_length=1, max_length=100)
    received_by: str = Field(min_length=1, max_length=200)


class TrancheOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    reference: str
    proposal_id: str | None
    received_on: dt.date
    received_by: str
    ranges: list[SerialRange]
    count: int
    recorded_by: str
    created_at: dt.datetime
