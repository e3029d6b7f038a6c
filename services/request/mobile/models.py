"""Tables of mobile recording visits (migration 0012): the office's figures per desa, the visits it confirms and
each visit's desa with the residents expected and recorded there.

A print request the mobile unit brings back names its visit in ``print_requests.mobile_visit_id`` (a plain
indexed column, like ``replaces``: SQLite cannot add a foreign key to an existing table; the service checks it).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import BigIntPK, UTCDateTime, new_id, utcnow
from services.request.models import Base

__all__ = ["DesaFigure", "MobileVisit", "MobileVisitDesa"]


class DesaFigure(Base):
    """A desa's residents obliged to hold an e-KTP and those recorded (perekaman), imported by the office and
    raised by the outcome of mobile visits; where the desa is, when known (for the visit plan)."""

    __tablename__ = "desa_figures"

    village_code: Mapped[str] = mapped_column(String(13), primary_key=True)
    kecamatan_code: Mapped[str] = mapped_column(String(8), index=True)
    obliged: Mapped[int] = mapped_column(Integer)
    recorded: Mapped[int] = mapped_column(Integer)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200))


class MobileVisit(Base):
    """A visit of the mobile unit the office confirmed: its date and team; ``planned`` until its outcome is
    recorded (then ``recorded``)."""

    __tablename__ = "mobile_visits"
    __table_args__ = (Index("ix_mobile_visits_date", "visit_date", "id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    visit_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    team: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    outcome_by: Mapped[str | None] = mapped_column(String(200))
    outcome_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class MobileVisitDesa(Base):
    """One desa of a visit: the residents expected (its gap when the visit was confirmed) and those recorded."""

    __tablename__ = "mobile_visit_desa"
    __table_args__ = (Index("uq_mobile_visit_desa", "visit_id", "village_code", unique=True),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    visit_id: Mapped[str] = mapped_column(ForeignKey("mobile_visits.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)  # the order the unit goes (as confirmed)
    village_code: Mapped[str] = mapped_column(String(13), index=True)
    kecamatan_code: Mapped[str] = mapped_column(String(8))
    expected: Mapped[int] = mapped_column(Integer)
    recorded: Mapped[int | None] = mapped_column(Integer)
