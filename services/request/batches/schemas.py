"""Batch status and report."""

from __future__ import annotations

import datetime as dt
import enum

from pydantic import BaseModel

from services.common.problems import FieldError

__all__ = ["BatchOut", "BatchReport", "BatchStatus"]


class BatchStatus(enum.StrEnum):
    PROCESSING = "processing"
    COMPLETED = "completed"
    COMPLETED_WITH_ERRORS = "completed_with_errors"
    REJECTED = "rejected"


class BatchOut(BaseModel):
    id: str
    status: BatchStatus
    format: str
    filename: str | None = None
    content_hash: str
    total_rows: int
    accepted_rows: int
    rejected_rows: int
    submitted_by: str
    created_at: dt.datetime
    finished_at: dt.datetime | None = None
    report: str


class BatchReport(BaseModel):
    batch: BatchOut
    errors: list[FieldError]
    total: int
    limit: int
    offset: int
