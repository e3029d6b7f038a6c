"""The life of a request as an enum, with every allowed transition in one table (checked by
``services.common.states.check_transition``).

::

    received ─▶ queued ─▶ printing ─▶ printed ─▶ activated ─▶ collected
       │          │  ▲        │          │           │            │
       ▼          ▼  └────────┘          └───────────┴────────────┴─▶ replaced (a replacement request took over)
    rejected  cancelled       └─▶ needs_review ─▶ printed | queued (an operator, or the gateway, resolves it)
    (failed attempt, released or expired lease: printing back to queued)

Valid input goes from ``received`` to ``queued`` in the transaction that stores it; invalid input is refused
with 422 and never stored, so ``rejected`` is kept for completeness (and future manual review). ``replaced``
ends a request whose card was damaged, lost or had wrong data: ``POST /v1/requests/{id}/replacements`` moves it
there and queues the replacement in the same transaction (replacements/service.py).
"""

from __future__ import annotations

import enum

__all__ = ["ACTIVE", "TRANSITIONS", "RequestStatus"]


class RequestStatus(enum.StrEnum):
    RECEIVED = "received"
    QUEUED = "queued"
    PRINTING = "printing"
    PRINTED = "printed"
    ACTIVATED = "activated"
    COLLECTED = "collected"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    NEEDS_REVIEW = "needs_review"
    REPLACED = "replaced"


S = RequestStatus

TRANSITIONS: dict[RequestStatus, frozenset[RequestStatus]] = {
    S.RECEIVED: frozenset({S.QUEUED, S.REJECTED}),
    # queued → needs_review: its sealed photo or signature does not open (changed in the database, or its key
    # left the keys file); a claim takes it out of the queue for an operator, so it does not stop the printers.
    S.QUEUED: frozenset({S.PRINTING, S.CANCELLED, S.NEEDS_REVIEW}),
    S.PRINTING: frozenset({S.QUEUED, S.PRINTED, S.NEEDS_REVIEW}),
    S.NEEDS_REVIEW: frozenset({S.PRINTED, S.QUEUED}),
    S.PRINTED: frozenset({S.ACTIVATED, S.REPLACED}),
    S.ACTIVATED: frozenset({S.COLLECTED, S.REPLACED}),
    S.COLLECTED: frozenset({S.REPLACED}),
    S.REPLACED: frozenset(),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
}

# The NIK's one active request: any status but these (mirrors the partial unique index in models.py).
FINAL = frozenset({S.COLLECTED, S.CANCELLED, S.REJECTED, S.REPLACED})
ACTIVE = frozenset(RequestStatus) - FINAL
