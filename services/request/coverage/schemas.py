"""Coverage figures."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, Field

__all__ = ["CoverageIn", "CoverageOut", "CoverageRow"]


class CoverageIn(BaseModel):
    obliged: Annotated[int, Field(ge=0, description="Residents obliged to hold an e-KTP (wajib KTP)")]
    recorded: Annotated[int, Field(ge=0, description="Residents recorded (perekaman done)")]


class CoverageRow(BaseModel):
    code: str
    name: str
    obliged: int
    recorded: int
    printed: int = Field(description="Cards printed (printed, activated or collected)")
    activated: int = Field(description="Cards activated (activated or collected)")
    backlog: int = Field(description="Requests waiting: queued, printing or needs_review")
    updated_at: dt.datetime | None = None


class CoverageOut(BaseModel):
    regency: CoverageRow
    kecamatan: list[CoverageRow]
