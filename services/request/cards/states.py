"""The life of a printed card as an enum, with every allowed transition in one table (checked by
``services.common.states.check_transition``).

::

    printed ─▶ activated ─▶ collected           the card is valid
       │           │            │
       └───────────┴────────────┴─▶ replaced | lost | damaged      invalid at once (a replacement request)
                                         │       │       │
                                         └───────┴───────┴─▶ surrendered ─▶ destroyed
                                                             (in the inventory's custody)

A card is registered ``printed`` when the gateway (or an operator resolving a review) reports its serial, and
follows its request's activation and handover. ``POST /v1/requests/{id}/replacements`` makes it ``damaged``,
``lost`` or ``replaced`` (a data change); a lost card found again may still be surrendered.
``POST /v1/cards/{serial}/surrender`` hands it to the inventory, whose record of destruction
(``POST /v1/returned-cards/{serial}/destroy``) is the one that counts: ``destroyed`` is kept here for when the
inventory tells.
"""

from __future__ import annotations

import enum

__all__ = ["TRANSITIONS", "VALID", "CardStatus"]


class CardStatus(enum.StrEnum):
    PRINTED = "printed"
    ACTIVATED = "activated"
    COLLECTED = "collected"
    REPLACED = "replaced"
    LOST = "lost"
    DAMAGED = "damaged"
    SURRENDERED = "surrendered"
    DESTROYED = "destroyed"


C = CardStatus
INVALIDATED = frozenset({C.REPLACED, C.LOST, C.DAMAGED})

TRANSITIONS: dict[CardStatus, frozenset[CardStatus]] = {
    C.PRINTED: frozenset({C.ACTIVATED}) | INVALIDATED,
    C.ACTIVATED: frozenset({C.COLLECTED}) | INVALIDATED,
    C.COLLECTED: INVALIDATED,
    C.REPLACED: frozenset({C.SURRENDERED}),
    C.LOST: frozenset({C.SURRENDERED}),
    C.DAMAGED: frozenset({C.SURRENDERED}),
    C.SURRENDERED: frozenset({C.DESTROYED}),
    C.DESTROYED: frozenset(),
}

# A card a resident may use: any other serial is invalid.
VALID = frozenset({C.PRINTED, C.ACTIVATED, C.COLLECTED})
