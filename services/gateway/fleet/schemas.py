"""Request and response bodies of ``/v1/printers``."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["PrinterIn", "PrinterOut"]


class PrinterIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    driver: Literal["evolis"] = "evolis"
    url: str = Field(
        min_length=1,
        max_length=500,
        description="A serial device (/dev/ttyUSB0) or socket://host:port, as the gateway's settings allow.",
    )
    ribbon: str = Field(default="ymcko", pattern=r"^[ymcko]{1,5}$", description="The panels the ribbon has.")


class PrinterOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    driver: str
    url: str
    ribbon: str
    state: str
    reasons: list[str]
    supplies: dict[str, Any]
    model: str | None
    firmware: str | None
    serial: str | None
    print_time: float | None
    cards_printed: int
    cards_per_hour: float | None
    last_error: str | None
    created_at: dt.datetime
    commissioned_at: dt.datetime | None
    polled_at: dt.datetime | None
