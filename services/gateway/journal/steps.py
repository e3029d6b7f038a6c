"""A job's steps and the transitions allowed between them, in one table (checked by
``services.common.states.check_transition``).

::

    claimed ─▶ reserved ─▶ rendered ─▶ sent ─▶ printing ─▶ printed ─▶ reported     (status printed)
       │           │           │          │         ├───▶ failed ──▶ reported      (status failed)
       └───────────┴───────────┴─▶ releasing ─▶ released (handed back / cancelled)
                                          └─▶ failed (no card: nothing went to the printer)
                                                    └───▶ unknown ─▶ review ─▶ printed | failed (operator)

Each step means "about to do this": ``sent`` is written before the request service hears it, ``printing``
before the card data goes to the printer, ``printed``/``failed``/``unknown`` before the reports.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

__all__ = ["OUTCOME_TOLD", "PRE_SEND", "TRANSITIONS", "JobState", "Step"]


class Step(StrEnum):
    CLAIMED = "claimed"
    RESERVED = "reserved"
    RENDERED = "rendered"
    RELEASING = "releasing"
    RELEASED = "released"
    SENT = "sent"
    PRINTING = "printing"
    PRINTED = "printed"
    FAILED = "failed"
    UNKNOWN = "unknown"
    REVIEW = "review"
    REPORTED = "reported"


class JobState(StrEnum):
    """What a job amounts to, for people: the filter of ``GET /v1/jobs``."""

    ACTIVE = "active"
    PRINTED = "printed"
    FAILED = "failed"
    NEEDS_REVIEW = "needs_review"
    HANDED_BACK = "handed_back"
    CANCELLED = "cancelled"


TRANSITIONS: Mapping[Step, frozenset[Step]] = MappingProxyType(
    {
        Step.CLAIMED: frozenset({Step.RESERVED, Step.RELEASING}),
        Step.RESERVED: frozenset({Step.RENDERED, Step.RELEASING}),
        Step.RENDERED: frozenset({Step.SENT, Step.RELEASING}),
        Step.RELEASING: frozenset({Step.RELEASED}),
        Step.RELEASED: frozenset(),
        Step.SENT: frozenset({Step.PRINTING, Step.FAILED}),
        Step.PRINTING: frozenset({Step.PRINTED, Step.FAILED, Step.UNKNOWN}),
        Step.PRINTED: frozenset({Step.REPORTED}),
        Step.FAILED: frozenset({Step.REPORTED}),
        Step.UNKNOWN: frozenset({Step.REVIEW}),
        Step.REVIEW: frozenset({Step.PRINTED, Step.FAILED}),
        Step.REPORTED: frozenset(),
    }
)

# Steps at which nothing has gone to the printer nor been told "sent": the work can be handed back.
PRE_SEND = frozenset({Step.CLAIMED, Step.RESERVED, Step.RENDERED})

# Steps at which the request service has been told how the job ended (or the claim was handed back): the job
# needs its card's photo and signature no more, and the journal drops them as it writes the step. Not before:
# until then a crash may leave the job for recovery.
OUTCOME_TOLD = frozenset({Step.REPORTED, Step.RELEASED, Step.REVIEW})
