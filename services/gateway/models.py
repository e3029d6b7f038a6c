"""Tables of the gateway service. Schema changes go through alembic (migrations/gateway), never create_all.

``printers`` is the fleet; ``jobs`` holds one row per card attempt with its current step, and
``journal_entries`` the steps in the order they were written (each *before* it was taken).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from services.common.models import AuditEventMixin, BigIntPK, IdempotencyKeyMixin, UTCDateTime, utcnow

__all__ = ["CARD_IMAGES", "AuditEvent", "Base", "IdempotencyKey", "Job", "JournalEntry", "Printer"]

# The fields of a job's card that are personal images (base64): kept only while the job may still need them, and
# dropped once its outcome is told to the request service (journal/steps.py ``OUTCOME_TOLD``).
CARD_IMAGES = ("photo", "signature")


class Base(DeclarativeBase):
    pass


class AuditEvent(AuditEventMixin, Base):
    pass


class IdempotencyKey(IdempotencyKeyMixin, Base):
    pass


class Printer(Base):
    """A card printer of the fleet: where it is, who it is, and its IPP-style state."""

    __tablename__ = "printers"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    driver: Mapped[str] = mapped_column(String(40), default="evolis")
    url: Mapped[str] = mapped_column(String(500))
    ribbon: Mapped[str] = mapped_column(String(10), default="ymcko")
    model: Mapped[str | None] = mapped_column(String(100))
    firmware: Mapped[str | None] = mapped_column(String(100))
    serial: Mapped[str | None] = mapped_column(String(100))
    print_time: Mapped[float | None] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(20), default="registered", index=True)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    supplies: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    cards_printed: Mapped[int] = mapped_column(Integer, default=0)
    cards_per_hour: Mapped[float | None] = mapped_column(Float)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    commissioned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    polled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Job(Base):
    """One card attempt: claim → reserve → render → send → print → report, at ``step`` now."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(60), primary_key=True)
    printer_id: Mapped[str] = mapped_column(ForeignKey("printers.id"), index=True)
    step: Mapped[str] = mapped_column(String(20), index=True)
    status: Mapped[str] = mapped_column(String(20), default="active", index=True)
    request_id: Mapped[str | None] = mapped_column(String(60), index=True)
    priority: Mapped[str | None] = mapped_column(String(10))
    # The claim's card data; its CARD_IMAGES leave once the outcome is reported (the printed fields stay).
    card: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    card_serial: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    cancel_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    journal: Mapped[list[JournalEntry]] = relationship(
        back_populates="job", order_by="JournalEntry.id", cascade="all, delete-orphan", lazy="raise"
    )


class JournalEntry(Base):
    """A step of a job, written before the step is taken."""

    __tablename__ = "journal_entries"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    step: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    job: Mapped[Job] = relationship(back_populates="journal", lazy="raise")
