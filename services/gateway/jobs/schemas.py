"""Bodies of ``/v1/jobs``."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["JobDetail", "JobOut", "JournalEntryOut", "Resolution"]


class JournalEntryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: dt.datetime
    step: str
    detail: dict[str, Any] | None


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    printer_id: str
    request_id: str | None
    priority: str | None
    step: str
    status: str
    card_serial: str | None
    reason: str | None
    cancel_requested: bool
    created_at: dt.datetime
    updated_at: dt.datetime
    finished_at: dt.datetime | None


class JobDetail(JobOut):
    journal: list[JournalEntryOut]


class Resolution(BaseModel):
    """What an operator found in the output hopper for a job whose outcome was unknown."""

    outcome: Literal["printed", "not_printed"]
    card_serial: str | None = Field(default=None, pattern=r"^[A-Z]+[0-9]+$", max_length=40)
    note: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def _serial_when_printed(self) -> Resolution:
        if self.outcome == "printed" and not self.card_serial:
            raise ValueError("card_serial is required when the card was printed")
        return self
