"""What the request service and the office send and receive about returned cards."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.inventory.states import ReturnedCardState

__all__ = ["DestroyIn", "ReturnedCardIn", "ReturnedCardOut"]

Serial = Annotated[str, Field(pattern=r"^[A-Z0-9]{4,40}$")]


class ReturnedCardIn(BaseModel):
    """``POST /v1/returned-cards`` (the request service, when an old card is surrendered)."""

    model_config = ConfigDict(extra="forbid")

    serial: Serial
    request_id: Annotated[str, Field(min_length=1, max_length=100)]
    received_by: Annotated[str, Field(min_length=1, max_length=120)]
    received_at: dt.datetime
    note: Annotated[str | None, Field(max_length=300)] = None


class DestroyIn(BaseModel):
    """``POST /v1/returned-cards/{serial}/destroy``: destroyed before this witness."""

    model_config = ConfigDict(extra="forbid")

    witness: Annotated[str, Field(min_length=1, max_length=200)]


class ReturnedCardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    serial: str
    request_id: str
    state: ReturnedCardState
    received_by: str
    received_at: dt.datetime
    note: str | None = None
    recorded_by: str
    destroyed_at: dt.datetime | None = None
    destroyed_by: str | None = None
    witness: str | None = None
