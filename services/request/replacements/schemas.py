"""What clients send to replace a card."""

from __future__ import annotations

import enum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ReplacementIn", "ReplacementReason"]


class ReplacementReason(enum.StrEnum):
    DAMAGED = "damaged"  # the card is broken (before activation, or in the resident's hands)
    LOST = "lost"  # the resident lost it: a police report reference, by default
    DATA_CHANGE = "data_change"  # a printed field is wrong or changed: ``changes`` carries the corrected fields


class ReplacementIn(BaseModel):
    """``POST /v1/requests/{id}/replacements``."""

    model_config = ConfigDict(extra="forbid")

    reason: ReplacementReason
    note: Annotated[str | None, Field(max_length=300)] = None
    police_report: Annotated[
        str | None,
        Field(min_length=1, max_length=100, description="The police report's reference (surat kehilangan)."),
    ] = None
    changes: dict[str, Any] | None = Field(
        default=None,
        description="data_change only: the corrected card fields (any printed field but the NIK, and photo or "
        "signature as base64), checked by the same rules as a new request. The rest is the old request's.",
    )
