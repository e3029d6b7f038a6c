"""Tables of the inventory service. Schema changes go through alembic (migrations/inventory), never create_all.

``blanks`` holds each blank's current state (denormalised for fast checks); ``movements`` is the append-only
ledger that explains it; ``reservations`` are counts of one blank held for a job; ``stock_lock`` is one row
that PostgreSQL writers lock (``SELECT … FOR UPDATE``) so that grants never oversell, and that carries the
running balances (``unused``, ``reserved``) every change updates in its own transaction; ``usage_days`` counts
the blanks used (consumed or spoiled) per UTC day, for the reorder rate. ``GET /v1/stock/invariant`` checks
both against the blanks' states, the reservations and the replayed movements.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.common.models import AuditEventMixin, BigIntPK, IdempotencyKeyMixin, UTCDateTime, new_id, utcnow

__all__ = [
    "AuditEvent",
    "Base",
    "Blank",
    "IdempotencyKey",
    "Movement",
    "ReorderProposal",
    "Reservation",
    "ReturnedCard",
    "StockLock",
    "Tranche",
    "UsageDay",
]


class Base(DeclarativeBase):
    pass


class AuditEvent(AuditEventMixin, Base):
    pass


class IdempotencyKey(IdempotencyKeyMixin, Base):
    pass


class ReorderProposal(Base):
    """A proposal to the centre for a new delivery of blanks; drafted automatically at the reorder point."""

    __tablename__ = "reorder_proposals"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    state: Mapped[str] = mapped_column(String(20), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)
    basis: Mapped[dict[str, Any]] = mapped_column(JSON)  # rate, reorder point, stock when drafted
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Tranche(Base):
    """One delivery of blanks from the centre: a reference, ranges of serials, who received it."""

    __tablename__ = "tranches"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    reference: Mapped[str] = mapped_column(String(100), unique=True)
    proposal_id: Mapped[str | None] = mapped_column(ForeignKey("reorder_proposals.id"), index=True)
    received_on: Mapped[dt.date] = mapped_column(Date)
    received_by: Mapped[str] = mapped_column(String(200))
    ranges: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    count: Mapped[int] = mapped_column(Integer)
    fingerprint: Mapped[str] = mapped_column(String(64))  # of the body, to tell a retry from a conflict
    recorded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Blank(Base):
    """One numbered blank card and its current state."""

    __tablename__ = "blanks"
    __table_args__ = (Index("ix_blanks_tranche_state", "tranche_id", "state"),)

    serial: Mapped[str] = mapped_column(String(32), primary_key=True)
    tranche_id: Mapped[str] = mapped_column(ForeignKey("tranches.id"))
    state: Mapped[str] = mapped_column(String(20), index=True)
    job_id: Mapped[str | None] = mapped_column(String(100))
    request_id: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Movement(Base):
    """One entry of the append-only ledger. Never updated or deleted: corrections are new entries."""

    __tablename__ = "movements"
    __table_args__ = (Index("ix_movements_kind_at", "kind", "at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    serial: Mapped[str | None] = mapped_column(String(32), index=True)
    tranche_id: Mapped[str | None] = mapped_column(String(36), index=True)
    job_id: Mapped[str | None] = mapped_column(String(100), index=True)
    request_id: Mapped[str | None] = mapped_column(String(100))
    printer_id: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(200))
    witness: Mapped[str | None] = mapped_column(String(200))
    from_state: Mapped[str | None] = mapped_column(String(20))
    to_state: Mapped[str | None] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))


class Reservation(Base):
    """A count of one blank held for a job; the serial is known only when it is consumed or spoiled."""

    __tablename__ = "reservations"
    # The lazy expiry check asks "is an open reservation overdue?" on every grant: one index probe.
    __table_args__ = (Index("ix_reservations_status_expires_at", "status", "expires_at"),)

    job_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(20), index=True)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)  # None while held
    serial: Mapped[str | None] = mapped_column(String(32))
    request_id: Mapped[str | None] = mapped_column(String(100))
    printer_id: Mapped[str | None] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(String(200))  # why it was held or spoiled
    witness: Mapped[str | None] = mapped_column(String(200))
    reserved_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class StockLock(Base):
    """The single row that serialises grants of blanks on PostgreSQL (SQLite has one writer anyway)."""

    __tablename__ = "stock_lock"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    unused: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # blanks in state available
    reserved: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # open reservations


class UsageDay(Base):
    """Blanks used up (consumed or spoiled) on one UTC day: the reorder rate sums a window of these."""

    __tablename__ = "usage_days"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class ReturnedCard(Base):
    """A printed card handed back (replaced, lost and found, damaged): in custody until destroyed before a witness.

    Recorded by the request service when the card is surrendered (``POST /v1/returned-cards``, idempotent by
    serial); its destruction is recorded here, and the month's destruction minutes list it."""

    __tablename__ = "returned_cards"

    serial: Mapped[str] = mapped_column(String(40), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20), index=True)
    received_by: Mapped[str] = mapped_column(String(120))
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    note: Mapped[str | None] = mapped_column(String(300))
    recorded_by: Mapped[str] = mapped_column(String(200))
    destroyed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    destroyed_by: Mapped[str | None] = mapped_column(String(200))
    witness: Mapped[str | None] = mapped_column(String(200))
