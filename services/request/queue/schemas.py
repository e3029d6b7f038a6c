"""The queue contract with the printer gateway (docs/architecture.md, "request service (:8001), role service")."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated

from pydantic import BaseModel, Field

from services.request.print_requests.schemas import CardData, Priority, Reason

__all__ = [
    "CapacityIn",
    "CapacityOut",
    "Claim",
    "ClaimIn",
    "FailedIn",
    "JobState",
    "NeedsReviewIn",
    "PrintedIn",
    "QueueStats",
    "RenewIn",
    "SentIn",
]

JobId = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[A-Za-z0-9_.:\-]+$", examples=["job_3f2a…"])]
PrinterId = Annotated[str, Field(min_length=1, max_length=80)]


class JobState(enum.StrEnum):
    LEASED = "leased"
    SENT = "sent"
    RELEASED = "released"
    EXPIRED = "expired"
    PRINTED = "printed"
    FAILED = "failed"
    NEEDS_REVIEW = "needs_review"


class ClaimIn(BaseModel):
    job_id: JobId
    printer_id: PrinterId
    lease_seconds: Annotated[float | None, Field(gt=0)] = None
    wait_seconds: Annotated[
        float,
        Field(
            ge=0,
            le=600,
            description="With nothing ready, wait up to this long for a request to be queued (long polling); "
            "capped by the service's max_claim_wait_seconds. 0 answers at once.",
        ),
    ] = 0.0


class Claim(BaseModel):
    job_id: str
    request_id: str
    printer_id: str
    priority: Priority
    reason: Reason
    attempts: int
    lease_expires_at: dt.datetime
    card: CardData


class RenewIn(BaseModel):
    lease_seconds: Annotated[float | None, Field(gt=0)] = None


class SentIn(BaseModel):
    printer_id: PrinterId | None = None


class PrintedIn(BaseModel):
    card_serial: Annotated[str, Field(pattern=r"^[A-Z0-9]{4,40}$", examples=["KTP00000001"])]
    printer_id: PrinterId | None = None


class FailedIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=300)]
    card_used: bool = False


class NeedsReviewIn(BaseModel):
    reason: Annotated[str, Field(min_length=1, max_length=300)]


class QueueStats(BaseModel):
    queued: int
    urgent_queued: int
    regular_queued: int
    printing: int
    needs_review: int
    overdue: int = Field(default=0, description="Urgent requests still queued or printing past their reason's target.")
    printed_today: int
    daily_capacity: int
    waiting_claims: int = Field(default=0, description="Claims waiting for work now: idle printers (this process).")
    with_suket: int = Field(default=0, description="Residents waiting for their card with a valid Suket.")


class CapacityIn(BaseModel):
    """The fleet's measured throughput: ``cards_per_hour`` is the whole fleet's total; ``printers`` (how many
    printers make it) is only shown, never multiplied in."""

    cards_per_hour: Annotated[float, Field(gt=0, le=10_000, description="The whole fleet's cards an hour.")]
    printers: Annotated[int, Field(ge=1, le=100, description="Ready printers behind that figure (shown only).")]


class CapacityOut(BaseModel):
    cards_per_hour: float
    printers: int
    daily_capacity: int = Field(description="cards_per_hour × the office hours of a working day.")
