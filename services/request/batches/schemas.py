"""Batch status, report and the office's decisions on a kecamatan's proposal."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from services.common.problems import FieldError

__all__ = [
    "BatchDecisionOut",
    "BatchOut",
    "BatchReport",
    "BatchStatus",
    "Decision",
    "DecisionsIn",
    "RowDecision",
]


class BatchStatus(enum.StrEnum):
    """``processing`` while read; then ``completed`` / ``completed_with_errors`` (rows queued at once: the office's
    own upload, or review off), or ``submitted`` (a clerk's proposal: its valid rows wait for the office) →
    ``approved`` | ``partly_approved`` | ``rejected`` once every valid row is decided. ``rejected`` also names a
    batch with no valid row."""

    PROCESSING = "processing"
    COMPLETED = "completed"
    COMPLETED_WITH_ERRORS = "completed_with_errors"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    PARTLY_APPROVED = "partly_approved"
    REJECTED = "rejected"


class Decision(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class BatchOut(BaseModel):
    id: str
    status: BatchStatus
    format: str
    filename: str | None = None
    content_hash: str
    total_rows: int
    accepted_rows: int = Field(description="Valid rows stored (queued, or awaiting the office's decision).")
    rejected_rows: int = Field(description="Rows refused by validation (the report lists them).")
    approved_rows: int = Field(default=0, description="Valid rows the office approved (queued).")
    declined_rows: int = Field(default=0, description="Valid rows the office rejected (never queued).")
    pending_rows: int = Field(default=0, description="Valid rows awaiting the office's decision.")
    submitted_by: str
    created_at: dt.datetime
    finished_at: dt.datetime | None = None
    decided_by: str | None = Field(default=None, description="Who made the last decision on the proposal.")
    decided_at: dt.datetime | None = None
    report: str


class RowDecision(BaseModel):
    row: Annotated[int, Field(ge=1, description="The proposal's row (1 = first data row), as in the report.")]
    decision: Decision
    reason: Annotated[str | None, Field(default=None, max_length=300)] = None

    @model_validator(mode="after")
    def _a_rejection_says_why(self) -> RowDecision:
        if self.decision is Decision.REJECT and not (self.reason or "").strip():
            raise ValueError("a rejected row needs a reason (the clerk reads it)")
        return self


class DecisionsIn(BaseModel):
    """Either ``{"approve": "all_valid"}`` (every row still awaiting a decision) or ``{"rows": [...]}``."""

    approve: Literal["all_valid"] | None = None
    rows: Annotated[list[RowDecision] | None, Field(default=None, max_length=50_000)] = None

    @model_validator(mode="after")
    def _one_kind(self) -> DecisionsIn:
        if (self.approve is None) == (self.rows is None) or (self.rows is not None and not self.rows):
            raise ValueError('give either "approve": "all_valid" or a non-empty "rows" list')
        if self.rows is not None and len({r.row for r in self.rows}) != len(self.rows):
            raise ValueError("a row is decided once per call")
        return self


class BatchDecisionOut(BaseModel):
    row: int
    request_id: str
    decision: Decision
    reason: str | None = None
    decided_by: str
    decided_role: str
    decided_at: dt.datetime


class BatchReport(BaseModel):
    batch: BatchOut
    errors: list[FieldError]
    total: int = Field(description="The errors the report lists (all pages).")
    limit: int
    offset: int
    listed_rows: int = Field(default=0, description="Refused rows whose errors the report lists.")
    unlisted_rows: int = Field(
        default=0,
        description="Refused rows past the report's room (batch_report_max_errors): counted in the batch's "
        "rejected_rows, not listed. Fix the listed rows and upload again to see them.",
    )
    decisions: list[BatchDecisionOut] = Field(
        default=[], description="The office's decisions, by row (the same page as the errors)."
    )
    decisions_total: int = 0
