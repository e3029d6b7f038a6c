"""The mobile unit's visit plan: which desa, on which working day, a pure function of the figures (no I/O).

The rule (docs/architecture.md, "Mobile recording visits"):

1. Every desa with a gap (obliged − recorded > 0) and no confirmed visit still to record is a candidate.
2. Candidates rank by ``gap × (1 + distance from the office / remote_km)``, largest first: the gap, weighted up
   for desa far from the office (their residents can least come to Gedong Tataan); a desa ``remote_km`` away
   ranks as if its gap were twice as large, one without coordinates is not weighted. Ties: the larger gap, then
   the code.
3. Each day, in turn, takes the highest-ranked unplanned desa (the day's first), then its neighbours nearest
   first, each that still fits: the day's expected residents (the gaps added up) stay ≤ ``per_day``. A neighbour
   of the first desa is one within ``neighbour_km`` of it when both have coordinates, else one of the same
   kecamatan (nearest: those by distance, then those by rank). A desa whose gap alone exceeds ``per_day``
   takes a day by itself (``over_capacity``: the unit records what it can, the rest stays in its gap).
4. The days are the next working days of the office calendar; the plan stops when no candidate is left.

Everything is ordered by numbers and codes only, so the same figures always give the same plan.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from services.common.office_hours import OfficeCalendar

__all__ = [
    "Candidate",
    "PlanRules",
    "PlannedDay",
    "distance_km",
    "from_office",
    "leftover",
    "make_plan",
    "rank",
    "working_days",
]

EARTH_RADIUS_KM = 6371.0088


@dataclass(frozen=True, slots=True)
class Candidate:
    code: str
    name: str
    kecamatan_code: str
    kecamatan: str
    gap: int
    lat: float | None = None
    lon: float | None = None

    @property
    def point(self) -> tuple[float, float] | None:
        return None if self.lat is None or self.lon is None else (self.lat, self.lon)


@dataclass(frozen=True, slots=True)
class PlanRules:
    office: tuple[float, float]
    per_day: int
    remote_km: float
    neighbour_km: float


@dataclass(slots=True)
class PlannedDay:
    date: dt.date
    desa: list[Candidate] = field(default_factory=list)

    @property
    def expected(self) -> int:
        return sum(c.gap for c in self.desa)


def distance_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance (haversine) in km between two (lat, lon) points."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(h, 1.0)))


def from_office(candidate: Candidate, rules: PlanRules) -> float | None:
    point = candidate.point
    return None if point is None else distance_km(rules.office, point)


def weight(candidate: Candidate, rules: PlanRules) -> float:
    """The rank's measure: the gap, weighted by the distance from the office (step 2 of the rule)."""
    distance = from_office(candidate, rules) or 0.0
    return candidate.gap * (1 + distance / rules.remote_km)


def rank(candidates: Sequence[Candidate], rules: PlanRules) -> list[Candidate]:
    """The candidates with a gap, highest-ranked first."""
    with_gap = [c for c in candidates if c.gap > 0]
    # Rounded: two weights equal but for floating-point noise tie, and the tie is broken the same way everywhere.
    return sorted(with_gap, key=lambda c: (-round(weight(c, rules), 6), -c.gap, c.code))


def _neighbours(first: Candidate, pool: Sequence[Candidate], rules: PlanRules) -> list[Candidate]:
    """The pool's neighbours of ``first``, nearest first (``pool`` is in rank order)."""
    by_distance: list[tuple[float, str, Candidate]] = []
    by_rank: list[Candidate] = []
    for candidate in pool:
        a, b = first.point, candidate.point
        if a is not None and b is not None:
            apart = distance_km(a, b)
            if apart <= rules.neighbour_km:
                by_distance.append((round(apart, 6), candidate.code, candidate))
        elif candidate.kecamatan_code == first.kecamatan_code:
            by_rank.append(candidate)
    return [c for *_, c in sorted(by_distance, key=lambda item: item[:2])] + by_rank


def make_plan(candidates: Sequence[Candidate], rules: PlanRules, dates: Sequence[dt.date]) -> list[PlannedDay]:
    """One day per date while candidates are left (step 3 of the rule)."""
    pool = rank(candidates, rules)
    days: list[PlannedDay] = []
    for date in dates:
        if not pool:
            break
        first = pool.pop(0)
        day = PlannedDay(date=date, desa=[first])
        room = rules.per_day - first.gap
        for candidate in _neighbours(first, pool, rules) if room > 0 else ():
            if candidate.gap <= room:
                day.desa.append(candidate)
                pool.remove(candidate)
                room -= candidate.gap
                if room == 0:
                    break
        days.append(day)
    return days


def leftover(candidates: Sequence[Candidate], days: Sequence[PlannedDay]) -> list[Candidate]:
    """The candidates with a gap that no day of the plan holds."""
    planned = {c.code for day in days for c in day.desa}
    return [c for c in candidates if c.gap > 0 and c.code not in planned]


def working_days(calendar: OfficeCalendar, first: dt.date, count: int) -> list[dt.date]:
    """``count`` working days from ``first`` on (``first`` itself if the office works then)."""
    days: list[dt.date] = []
    day = first
    while len(days) < count:
        day = calendar.next_working_day(day)
        days.append(day)
        day += dt.timedelta(days=1)
    return days
