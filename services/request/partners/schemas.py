"""What the partner registry's API takes and gives."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from services.request.print_requests.schemas import Reason

__all__ = [
    "DeliveryOut",
    "PartnerChange",
    "PartnerCreated",
    "PartnerIn",
    "PartnerOut",
    "RotateIn",
    "RotatedSecret",
]

KecamatanCode = Annotated[str, Field(pattern=r"^\d{2}\.\d{2}\.\d{2}$")]
URGENT_REASONS = ["health", "education", "legal", "travel", "disaster", "other"]


class PartnerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200, examples=["RSUD Pesawaran — loket BPJS"])]
    contact: Annotated[str, Field(min_length=1, max_length=200, examples=["it@rsud-pesawaran.go.id"])]
    allowed_reasons: Annotated[
        list[Reason],
        Field(min_length=1, max_length=13, description="urgent reasons it may submit", examples=[["health"]]),
    ]
    allowed_kecamatan: Annotated[
        list[KecamatanCode] | None, Field(max_length=50, description="null: every kecamatan of the regency")
    ] = None
    rate_limit_per_minute: Annotated[int, Field(ge=1, le=6000)] = 60
    callback_url: Annotated[
        AnyHttpUrl | None, Field(description="where its webhooks are sent (https in production)")
    ] = None


class PartnerChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    contact: Annotated[str | None, Field(min_length=1, max_length=200)] = None
    allowed_reasons: Annotated[list[Reason] | None, Field(min_length=1, max_length=13)] = None
    allowed_kecamatan: Annotated[list[KecamatanCode] | None, Field(max_length=50)] = None
    all_kecamatan: bool | None = Field(default=None, description="true: every kecamatan (allowed_kecamatan = null)")
    rate_limit_per_minute: Annotated[int | None, Field(ge=1, le=6000)] = None
    callback_url: AnyHttpUrl | None = None
    status: Literal["active", "suspended"] | None = None


class PartnerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="the client_id")
    name: str
    contact: str
    allowed_reasons: list[str]
    allowed_kecamatan: list[str] | None
    rate_limit_per_minute: int
    callback_url: str | None
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime


class PartnerCreated(PartnerOut):
    """The registration's answer: the only time the secrets are shown."""

    client_id: str
    client_secret: str = Field(description="shown once; the office keeps only its hash")
    webhook_secret: str = Field(description="shown once: verifies the webhooks (Standard Webhooks, whsec_…)")


class RotateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["client", "webhook"]
    overlap_hours: Annotated[float, Field(ge=0, le=24 * 30, description="how long the old secret keeps working")] = 24


class RotatedSecret(BaseModel):
    kind: str
    secret: str = Field(description="shown once")
    previous_valid_until: dt.datetime | None


class AttemptOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: dt.datetime
    status_code: int | None
    latency_ms: int
    response_snippet: str | None
    error: str | None


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="the webhook-id header of its messages")
    partner_id: str
    request_id: str
    type: str
    state: str = Field(description="pending, delivered or failed")
    attempts: int
    occurred_at: dt.datetime
    next_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    last_status_code: int | None
    history: list[AttemptOut] = []
