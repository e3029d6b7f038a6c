"""What clients send and receive about desa figures and mobile recording visits."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "DesaFigureIn",
    "DesaFigureList",
    "DesaFigureOut",
    "DesaOutcomeIn",
    "OutcomeIn",
    "PlanDay",
    "PlanDesa",
    "PlanOut",
    "VisitDesaOut",
    "VisitIn",
    "VisitOut",
    "VisitStatus",
]

VillageCode = Annotated[str, Field(pattern=r"^\d{2}\.\d{2}\.\d{2}\.\d{4}$", examples=["18.09.05.2004"])]
Residents = Annotated[int, Field(ge=0, le=1_000_000)]


class DesaFigureIn(BaseModel):
    """One row of ``PUT /v1/desa-figures`` (a CSV line ``village_code,obliged,recorded[,lat,lon]`` or a JSON row)."""

    model_config = ConfigDict(extra="forbid")

    village_code: VillageCode
    obliged: Annotated[Residents, Field(description="Residents obliged to hold an e-KTP (wajib KTP)")]
    recorded: Annotated[Residents, Field(description="Residents recorded (perekaman done)")]
    lat: Annotated[float | None, Field(ge=-90, le=90, examples=[-5.6234])] = None
    lon: Annotated[float | None, Field(ge=-180, le=180, examples=[105.2151])] = None


class DesaFigureOut(BaseModel):
    village_code: str
    name: str
    kecamatan_code: str
    kecamatan: str
    obliged: int
    recorded: int
    gap: int = Field(description="obliged − recorded (never below 0): residents still to be recorded")
    waiting: int = Field(description="The desa's print requests queued now")
    lat: float | None = None
    lon: float | None = None
    distance_km: float | None = Field(default=None, description="From the office, as the crow flies")
    updated_at: dt.datetime
    updated_by: str


class DesaFigureList(BaseModel):
    items: list[DesaFigureOut]
    total: int
    obliged: int
    recorded: int
    gap: int
    waiting: int


class PlanDesa(BaseModel):
    code: str
    name: str
    kecamatan_code: str
    kecamatan: str
    gap: int
    distance_km: float | None = Field(default=None, description="From the office; null without coordinates")


class PlanDay(BaseModel):
    date: dt.date
    desa: list[PlanDesa]
    expected_residents: int = Field(description="The day's desa's gaps added up")
    over_capacity: bool = Field(
        default=False, description="One desa whose gap alone exceeds per_day: the day holds it alone"
    )


class PlanOut(BaseModel):
    per_day: int
    office_lat: float
    office_lon: float
    days: list[PlanDay]
    unplanned_desa: int = Field(description="Desa with a gap left for later plans")
    unplanned_residents: int


class VisitStatus(enum.StrEnum):
    PLANNED = "planned"
    RECORDED = "recorded"


class VisitIn(BaseModel):
    """``POST /v1/mobile-visits``: a visit the office confirms (from the plan or its own)."""

    model_config = ConfigDict(extra="forbid")

    date: dt.date
    village_codes: Annotated[list[VillageCode], Field(min_length=1, max_length=20, examples=[["18.09.05.2004"]])]
    team: Annotated[str, Field(min_length=1, max_length=200, examples=["Tim Mobile 1 (Rahmat, Dewi)"])]
    notes: Annotated[str | None, Field(max_length=500)] = None


class DesaOutcomeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    village_code: VillageCode
    recorded: Annotated[Residents, Field(description="Residents the unit recorded in this desa on the visit")]


class OutcomeIn(BaseModel):
    """``POST /v1/mobile-visits/{id}/outcome``: residents recorded per desa. Sent again, it replaces the first
    (only the difference is added to the figures)."""

    model_config = ConfigDict(extra="forbid")

    desa: Annotated[list[DesaOutcomeIn], Field(min_length=1, max_length=20)]


class VisitDesaOut(BaseModel):
    code: str
    name: str
    kecamatan_code: str
    kecamatan: str
    expected: int = Field(description="Its gap when the visit was confirmed")
    recorded: int | None = Field(default=None, description="Recorded on the visit (its outcome)")


class VisitOut(BaseModel):
    id: str
    date: dt.date
    status: VisitStatus
    team: str
    notes: str | None = None
    desa: list[VisitDesaOut]
    expected_residents: int
    recorded_residents: int | None = None
    requests: int = Field(description="Print requests brought by this visit (GET /v1/requests?mobile_visit_id=)")
    created_by: str
    created_at: dt.datetime
    outcome_by: str | None = None
    outcome_at: dt.datetime | None = None
