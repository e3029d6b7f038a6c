"""Bodies of the ledger's endpoints: movements, balances, the invariant, a serial's custody, corrections."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from services.inventory.states import AdjustmentAction, SpoilageReason

__all__ = [
    "SERIAL_PATTERN",
    "AdjustmentIn",
    "BlankOut",
    "Custody",
    "Invariant",
    "MovementOut",
    "SpoilageIn",
    "Stock",
    "TrancheBalance",
    "TrancheInvariant",
]

SERIAL_PATTERN = r"^[A-Z]+[0-9]+$"


class MovementOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: dt.datetime
    kind: str
    quantity: int
    serial: str | None
    tranche_id: str | None
    job_id: str | None
    request_id: str | None
    printer_id: str | None
    reason: str | None
    witness: str | None
    from_state: str | None
    to_state: str | None
    actor: str


class BlankOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    serial: str
    tranche_id: str
    state: str
    job_id: str | None
    request_id: str | None
    updated_at: dt.datetime


class Custody(BaseModel):
    """One blank and every movement that concerns it, oldest first."""

    blank: BlankOut
    tranche_reference: str
    movements: list[MovementOut]


class TrancheBalance(BaseModel):
    """Per tranche: reservations are counts office-wide, not tied to a tranche until a serial is named, so a
    tranche shows ``unused`` (available + its share of reserved) instead of available and reserved."""

    tranche_id: str
    reference: str
    received: int
    unused: int
    consumed: int
    spoiled: int
    written_off: int


class Stock(BaseModel):
    """Office-wide balances: received = available + reserved + consumed + spoiled + written_off."""

    received: int
    available: int
    reserved: int
    consumed: int
    spoiled: int
    written_off: int
    urgent_reserve: int = Field(description="Blanks that only urgent jobs may reserve.")
    available_to_regular: int = Field(description="Blanks a regular job may still reserve.")
    tranches: list[TrancheBalance]


class TrancheInvariant(TrancheBalance):
    holds: bool


class Invariant(BaseModel):
    """The ledger checked against itself: ``holds`` is true when every count agrees, office-wide and per tranche.

    Three sources must agree: the tranches' declared counts, the blanks' current states, and the movements
    replayed from the start (received, consumed, spoiled, write-offs net of restores). Office-wide,
    received = available + reserved + consumed + spoiled + written_off with available >= 0 (reservations
    never exceed the unused blanks); per tranche, received = unused + consumed + spoiled + written_off.
    The running balances the grant path reads (``counters``: unused, reserved, used) must equal the same
    figures counted from the blanks, the open reservations and the movements: a drift is a problem.
    """

    holds: bool
    received: int
    available: int
    reserved: int
    consumed: int
    spoiled: int
    written_off: int
    counters: dict[str, int] = Field(default_factory=dict, description="The running balances as recorded.")
    tranches: list[TrancheInvariant]
    problems: list[str]


class SpoilageIn(BaseModel):
    """A blank spoiled outside any reservation (found damaged on the shelf, a test print …)."""

    serial: str = Field(pattern=SERIAL_PATTERN, max_length=32)
    reason: SpoilageReason
    witness: str = Field(min_length=1, max_length=200)
    printer_id: str | None = Field(default=None, max_length=100)


class AdjustmentIn(BaseModel):
    """An admin's correction: write an unused blank off (lost), or restore a written-off one (found)."""

    serial: str = Field(pattern=SERIAL_PATTERN, max_length=32)
    action: AdjustmentAction
    reason: str = Field(min_length=3, max_length=200)
    witness: str | None = Field(default=None, max_length=200)
