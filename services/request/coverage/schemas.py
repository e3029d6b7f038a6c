"""Coverage figures."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field

__all__ = ["CoverageIn", "CoverageOut", "CoverageRow"]


class CoverageIn(BaseModel):
    obliged: Annotated[int, Field(ge=0, description="Residents obliged to hold an e-KTP (wajib KTP)")]
    recorded: Annotated[int, Field(ge=0, description="Residents recorded (perekaman done)")]
    collected_before: Annotated[
        int,
        Field(
            ge=0,
            description="Cards handed to residents before this system kept records (Pesawaran, January 2015: "
            "216,800 for the regency); at most recorded",
        ),
    ] = 0


class CoverageRow(BaseModel):
    code: str
    name: str
    obliged: int
    recorded: int
    collected_before: int = Field(default=0, description="Cards handed over before this system (set by the office)")
    printed: int = Field(description="Cards printed: collected_before + requests printed, activated or collected")
    activated: int = Field(description="Cards activated: collected_before + requests activated or collected")
    collected: int = Field(description="Cards handed to residents: collected_before + requests collected")
    backlog: int = Field(description="Requests waiting: queued, printing or needs_review")
    overdue: int = Field(default=0, description="Urgent requests queued or printing past their reason's target")
    with_suket: int = Field(default=0, description="Residents waiting for their card with a valid Suket")
    updated_at: dt.datetime | None = None


class CoverageOut(BaseModel):
    regency: CoverageRow
    kecamatan: list[CoverageRow]
