"""Bodies of the reservation calls (the gateway's contract, docs/architecture.md)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from services.inventory.ledger.schemas import SERIAL_PATTERN
from services.inventory.states import SpoilageReason

__all__ = ["ConsumeIn", "HoldIn", "ReleaseIn", "ReservationOut", "ReserveIn", "SpoilIn"]


class ReserveIn(BaseModel):
    job_id: str = Field(min_length=1, max_length=100)
    urgent: bool = False
    ttl_seconds: float | None = Field(default=None, gt=0, description="Default: the service's default_ttl_seconds.")


class ConsumeIn(BaseModel):
    serial: str = Field(pattern=SERIAL_PATTERN, max_length=32)
    request_id: str = Field(min_length=1, max_length=100)
    printer_id: str = Field(min_length=1, max_length=100)


class SpoilIn(BaseModel):
    serial: str = Field(pattern=SERIAL_PATTERN, max_length=32)
    reason: SpoilageReason
    witness: str = Field(min_length=1, max_length=200)
    printer_id: str = Field(min_length=1, max_length=100)


class ReleaseIn(BaseModel):
    pass


class HoldIn(BaseModel):
    reason: str = Field(min_length=1, max_length=200)


class ReservationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    job_id: str
    urgent: bool
    status: str
    expires_at: dt.datetime | None
    serial: str | None
    request_id: str | None
    printer_id: str | None
    reason: str | None
    witness: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
