"""The inventory's state machines: each enum with its allowed transitions (checked by
``services.common.states.check_transition``).

A blank:        available ─▶ consumed | spoiled | written_off;  written_off ─▶ available (found again)
A reservation:  reserved ─▶ held | consumed | spoiled | released | expired;  held ─▶ consumed | spoiled | released;
                expired ─▶ consumed | spoiled (a late report, while an unreserved blank is left)
A proposal:     draft ─▶ submitted ─▶ approved ─▶ shipped ─▶ closed; draft, submitted, approved ─▶ cancelled
A returned card (an old e-KTP handed in): in_custody ─▶ destroyed (before a witness)
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

__all__ = [
    "BLANK_TRANSITIONS",
    "OPEN_PROPOSAL_STATES",
    "OPEN_RESERVATION_STATES",
    "PROPOSAL_TRANSITIONS",
    "RESERVATION_TRANSITIONS",
    "RETURNED_CARD_TRANSITIONS",
    "AdjustmentAction",
    "BlankState",
    "MovementKind",
    "ProposalState",
    "ReservationStatus",
    "ReturnedCardState",
    "SpoilageReason",
]


class BlankState(enum.StrEnum):
    AVAILABLE = "available"  # on the shelf or in a hopper: not yet a card (it may be counted as reserved)
    CONSUMED = "consumed"  # became a printed card
    SPOILED = "spoiled"  # destroyed by a misprint, a failed encode, damage or a data change
    WRITTEN_OFF = "written_off"  # lost or otherwise out of the ledger by an admin adjustment


class ReservationStatus(enum.StrEnum):
    RESERVED = "reserved"
    HELD = "held"  # outcome unknown (power lost mid-card): never expires, waits for an operator
    CONSUMED = "consumed"
    SPOILED = "spoiled"
    RELEASED = "released"
    EXPIRED = "expired"


class ReturnedCardState(enum.StrEnum):
    IN_CUSTODY = "in_custody"  # received from the request service, kept until destroyed
    DESTROYED = "destroyed"


class ProposalState(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    SHIPPED = "shipped"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class MovementKind(enum.StrEnum):
    RECEIVED = "received"
    RESERVED = "reserved"
    RELEASED = "released"
    CONSUMED = "consumed"
    SPOILED = "spoiled"
    ADJUSTMENT = "adjustment"


class SpoilageReason(enum.StrEnum):
    """Dukcapil's categories of spoiled blanks."""

    FAILED_PRINT = "failed_print"
    FAILED_ENCODE = "failed_encode"
    DAMAGED = "damaged"
    DATA_CHANGE = "data_change"


class AdjustmentAction(enum.StrEnum):
    WRITE_OFF = "write_off"  # an unused blank is missing or destroyed outside printing
    RESTORE = "restore"  # a written-off blank was found again


OPEN_RESERVATION_STATES = frozenset({ReservationStatus.RESERVED, ReservationStatus.HELD})
OPEN_PROPOSAL_STATES = frozenset(
    {ProposalState.DRAFT, ProposalState.SUBMITTED, ProposalState.APPROVED, ProposalState.SHIPPED}
)

BLANK_TRANSITIONS: Mapping[BlankState, frozenset[BlankState]] = {
    BlankState.AVAILABLE: frozenset({BlankState.CONSUMED, BlankState.SPOILED, BlankState.WRITTEN_OFF}),
    BlankState.WRITTEN_OFF: frozenset({BlankState.AVAILABLE}),
    BlankState.CONSUMED: frozenset(),
    BlankState.SPOILED: frozenset(),
}

RESERVATION_TRANSITIONS: Mapping[ReservationStatus, frozenset[ReservationStatus]] = {
    ReservationStatus.RESERVED: frozenset(
        {
            ReservationStatus.HELD,
            ReservationStatus.CONSUMED,
            ReservationStatus.SPOILED,
            ReservationStatus.RELEASED,
            ReservationStatus.EXPIRED,
        }
    ),
    ReservationStatus.HELD: frozenset(
        {ReservationStatus.CONSUMED, ReservationStatus.SPOILED, ReservationStatus.RELEASED}
    ),
    ReservationStatus.CONSUMED: frozenset(),
    ReservationStatus.SPOILED: frozenset(),
    ReservationStatus.RELEASED: frozenset(),
    # A late report after expiry: the card exists, so the ledger records it (if a blank is still free).
    ReservationStatus.EXPIRED: frozenset({ReservationStatus.CONSUMED, ReservationStatus.SPOILED}),
}

PROPOSAL_TRANSITIONS: Mapping[ProposalState, frozenset[ProposalState]] = {
    ProposalState.DRAFT: frozenset({ProposalState.SUBMITTED, ProposalState.CANCELLED}),
    ProposalState.SUBMITTED: frozenset({ProposalState.APPROVED, ProposalState.CANCELLED}),
    ProposalState.APPROVED: frozenset({ProposalState.SHIPPED, ProposalState.CANCELLED}),
    ProposalState.SHIPPED: frozenset({ProposalState.CLOSED}),
    ProposalState.CLOSED: frozenset(),
    ProposalState.CANCELLED: frozenset(),
}

RETURNED_CARD_TRANSITIONS: Mapping[ReturnedCardState, frozenset[ReturnedCardState]] = {
    ReturnedCardState.IN_CUSTODY: frozenset({ReturnedCardState.DESTROYED}),
    ReturnedCardState.DESTROYED: frozenset(),
}
