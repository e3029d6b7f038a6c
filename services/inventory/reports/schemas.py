"""Bodies of the reports."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel

__all__ = ["SpoilageReport", "SpoiledBlank"]


class SpoiledBlank(BaseModel):
    serial: str
    tranche_reference: str | None
    reason: str | None
    witness: str | None
    printer_id: str | None
    job_id: str | None
    recorded_by: str
    at: dt.datetime


class SpoilageReport(BaseModel):
    """The month's spoiled blanks (Asia/Jakarta is not applied: months are UTC months)."""

    month: str
    total: int
    by_reason: dict[str, int]
    by_printer: dict[str, int]
    items: list[SpoiledBlank]
