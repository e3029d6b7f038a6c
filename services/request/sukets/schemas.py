"""What clients send and receive about Sukets."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated

from pydantic import BaseModel, Field

__all__ = ["SuketCancelIn", "SuketOut", "SuketStatus", "SuketSummary", "SuketVerification"]


class SuketStatus(enum.StrEnum):
    VALID = "valid"
    WITHDRAWN = "withdrawn"  # the card was handed over, the request cancelled, or an operator withdrew it
    EXPIRED = "expired"  # past valid_until


class SuketCancelIn(BaseModel):
    reason: Annotated[
        str, Field(min_length=1, max_length=300, examples=["issued on the wrong request"], description="Why.")
    ]


class SuketSummary(BaseModel):
    """The request's latest Suket, as ``GET /v1/requests/{id}`` shows it."""

    id: str
    number: str
    status: SuketStatus
    valid_until: dt.date


class SuketOut(BaseModel):
    id: str
    number: str = Field(description="The register number: 474.11/<seq>/SKET/<regency>/<year>, sequential per year.")
    request_id: str
    kecamatan_code: str
    status: SuketStatus
    issued_at: dt.datetime
    issued_on: dt.date = Field(description="The office's date of issue (WIB).")
    valid_until: dt.date = Field(description="The last day it stands in for the KTP-el.")
    issued_by: str
    withdrawn_at: dt.datetime | None = None
    withdrawn_by: str | None = None
    withdrawal_reason: str | None = None
    pdf: str = Field(description="Where its A4 PDF is printed from.")
    verification_url: str = Field(description="What its QR code holds: the public verification page.")


class SuketVerification(BaseModel):
    """What anyone holding the code learns: whether the Suket stands, and nothing more of the resident than a
    masked name to compare with the paper."""

    status: SuketStatus
    number: str
    name: str = Field(description="The resident's name masked: each word's first letter (S*** R********).")
    issued_on: dt.date
    valid_until: dt.date
