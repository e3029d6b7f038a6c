"""The office's calendar: which days the office works, its hours, and the dates people read, all in the office's
time zone (WIB, Asia/Jakarta, for Pesawaran).

A working day is one of ``office_weekdays`` (Monday to Friday) that is not one of Indonesia's public holidays
(``holidays.country_holidays("ID")``), not a civil-service joint leave day (cuti bersama, when
``office_closed_on_joint_leave``) and not one of ``office_closed_dates``. The printers print during office hours
(``office_opens`` to ``office_closes``) of working days, so a day's capacity is cards an hour × those hours, and
an estimated date walks forward through office time only. The request service (estimated print dates) and the
inventory (the stock-out date) both read their settings through ``OfficeHoursSettings``.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

import holidays
from pydantic import Field, model_validator
from pydantic_settings import BaseSettings

__all__ = ["OfficeCalendar", "OfficeHoursSettings"]

HOLIDAY_COUNTRY = "ID"
# A date further than this is no estimate any more: the walk stops there.
HORIZON_DAYS = 366 * 50


class OfficeHoursSettings(BaseSettings):
    """The office calendar's settings, mixed into a service's settings (its own env prefix applies)."""

    office_timezone: str = Field(default="Asia/Jakarta", description="Every date a person reads is in this zone.")
    office_opens: dt.time = Field(default=dt.time(8, 0), description="When the office (and its printers) start.")
    office_closes: dt.time = Field(default=dt.time(16, 0), description="When the office stops printing.")
    office_weekdays: list[int] = Field(
        default=[0, 1, 2, 3, 4], description="Working weekdays, Monday = 0 … Sunday = 6 (JSON list)."
    )
    office_closed_dates: list[dt.date] = Field(
        default=[], description="Extra closed dates besides the public holidays (JSON list of ISO dates)."
    )
    office_closed_on_joint_leave: bool = Field(
        default=True, description="Closed on the civil service's joint leave days (cuti bersama) too."
    )

    @model_validator(mode="after")
    def _hours_make_sense(self) -> OfficeHoursSettings:
        if self.office_closes <= self.office_opens:
            raise ValueError("office_closes must be later than office_opens")
        if not self.office_weekdays or not set(self.office_weekdays) <= set(range(7)):
            raise ValueError("office_weekdays lists at least one weekday, Monday = 0 … Sunday = 6")
        zoneinfo.ZoneInfo(self.office_timezone)  # an unknown zone fails here, at start, not on the first request
        return self


@dataclass(frozen=True)
class OfficeCalendar:
    """Working days and office hours; made once per app (``from_settings``) and shared."""

    timezone: dt.tzinfo
    opens: dt.time
    closes: dt.time
    weekdays: frozenset[int]
    closed_dates: frozenset[dt.date]
    public_holidays: holidays.HolidayBase

    @classmethod
    def from_settings(cls, settings: OfficeHoursSettings) -> OfficeCalendar:
        categories = ("public", "government") if settings.office_closed_on_joint_leave else ("public",)
        return cls(
            timezone=zoneinfo.ZoneInfo(settings.office_timezone),
            opens=settings.office_opens,
            closes=settings.office_closes,
            weekdays=frozenset(settings.office_weekdays),
            closed_dates=frozenset(settings.office_closed_dates),
            public_holidays=holidays.country_holidays(HOLIDAY_COUNTRY, categories=categories),
        )

    @property
    def hours_per_day(self) -> float:
        """Office hours of one working day."""
        day = dt.date(2000, 1, 1)
        return (dt.datetime.combine(day, self.closes) - dt.datetime.combine(day, self.opens)).total_seconds() / 3600

    def local_date(self, instant: dt.datetime) -> dt.date:
        """The office's calendar date at ``instant`` (23:30 UTC is already tomorrow in WIB)."""
        return instant.astimezone(self.timezone).date()

    def is_working_day(self, day: dt.date) -> bool:
        return day.weekday() in self.weekdays and day not in self.closed_dates and day not in self.public_holidays

    def next_working_day(self, day: dt.date) -> dt.date:
        """``day`` itself if the office works then, else the first working day after it."""
        for _ in range(HORIZON_DAYS):
            if self.is_working_day(day):
                return day
            day += dt.timedelta(days=1)
        return day

    def date_after(self, now: dt.datetime, hours: float) -> dt.date:
        """The office date on which ``hours`` of office time, counted from ``now``, have not yet run out: the day
        the work that starts after them is done. ``hours = 0`` during office hours is today; after closing time,
        on a weekend or a holiday it is the next working day."""
        local = now.astimezone(self.timezone)
        day = local.date()
        left = max(hours, 0.0) * 3600
        if self.is_working_day(day):
            opening = dt.datetime.combine(day, self.opens, tzinfo=self.timezone)
            closing = dt.datetime.combine(day, self.closes, tzinfo=self.timezone)
            today = max((closing - max(local, opening)).total_seconds(), 0.0)
            if left < today:
                return day
            left -= today
        full_day = self.hours_per_day * 3600
        for _ in range(HORIZON_DAYS):
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                if left < full_day:
                    return day
                left -= full_day
        return day

    def date_after_working_days(self, now: dt.datetime, days: float) -> dt.date:
        """The office date on which ``days`` full working days' work, started at ``now``, runs out."""
        return self.date_after(now, days * self.hours_per_day)
