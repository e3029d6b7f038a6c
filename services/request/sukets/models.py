"""Sukets and their yearly register counter (tables of the request service, migration 0011)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import UTCDateTime, new_id, utcnow
from services.request.models import Base

__all__ = ["Suket", "SuketCounter"]


class SuketCounter(Base):
    """The last register number given in a year: incremented in the issuing transaction (one statement)."""

    __tablename__ = "suket_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_seq: Mapped[int] = mapped_column(Integer)


class Suket(Base):
    """A Surat Keterangan pengganti KTP-el. ``status`` is stored as ``valid``, ``withdrawn`` (at the card's
    handover, the request's cancellation, or by an operator) or ``expired`` (only when a new one replaces one
    past its date); a ``valid`` one past ``valid_until`` reads as expired (lifecycle.effective_status)."""

    __tablename__ = "sukets"
    __table_args__ = (
        Index("uq_sukets_number", "number", unique=True),
        Index("uq_sukets_year_seq", "year", "seq", unique=True),
        Index("uq_sukets_verification_code", "verification_code", unique=True),
        Index("ix_sukets_request_id", "request_id"),
        Index("ix_sukets_issued_on", "issued_on", "id"),
        Index("ix_sukets_kecamatan_status", "kecamatan_code", "status", "valid_until"),
        # One valid Suket per request, whatever races.
        Index(
            "uq_sukets_valid_request",
            "request_id",
            unique=True,
            postgresql_where=text("status = 'valid'"),
            sqlite_where=text("status = 'valid'"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    number: Mapped[str] = mapped_column(String(60))  # 474.11/0001/SKET/18.09/2026
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    request_id: Mapped[str] = mapped_column(ForeignKey("print_requests.id"))
    kecamatan_code: Mapped[str] = mapped_column(String(8))  # the request's, for the register's filters and counts
    status: Mapped[str] = mapped_column(String(20))
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    issued_on: Mapped[dt.date] = mapped_column(Date)  # the office's date (WIB)
    valid_until: Mapped[dt.date] = mapped_column(Date)  # the last day it stands in for the card
    verification_code: Mapped[str] = mapped_column(String(64))
    issued_by: Mapped[str] = mapped_column(String(200))
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    withdrawn_by: Mapped[str | None] = mapped_column(String(200))
    withdrawal_reason: Mapped[str | None] = mapped_column(String(300))
