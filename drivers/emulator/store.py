"""What an emulated printer remembers across restarts, and its append-only log of every card it output.

In a state directory: ``state.json`` (hopper position, supplies, counters, job outcomes, the card inside),
replaced atomically on each change, and ``cards.jsonl``, one JSON line per card that left the printer
(printed or rejected). Without a directory both live in memory.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

__all__ = ["CardInside", "JobRecord", "SerialRange", "StateStore", "StoredState"]

# Enough to answer for any job a gateway could still be asking about, without growing for ever.
MAX_JOBS = 10_000

_RANGE_RE = re.compile(r"([A-Z]*)([0-9]+)-([A-Z]*)([0-9]+)")


@dataclass(slots=True)
class SerialRange:
    """Blank serials still in a stack: ``KTP00000001-KTP00000500`` is prefix KTP, 8 digits, 1 to 500."""

    prefix: str
    next: int
    last: int
    width: int

    @classmethod
    def parse(cls, text: str) -> SerialRange:
        match = _RANGE_RE.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"bad serial range {text!r}: expected e.g. KTP00000001-KTP00000500")
        prefix, first, last_prefix, last = match.groups()
        if prefix != last_prefix or int(last) < int(first):
            raise ValueError(f"bad serial range {text!r}: one prefix, the first serial before the last")
        return cls(prefix, int(first), int(last), len(first))

    def __len__(self) -> int:
        return max(0, self.last - self.next + 1)

    def format(self, number: int) -> str:
        return f"{self.prefix}{number:0{self.width}d}"

    def take(self) -> str:
        serial = self.format(self.next)
        self.next += 1
        return serial

    def __str__(self) -> str:
        return f"{self.format(self.next)}-{self.format(self.last)}"


@dataclass(slots=True)
class CardInside:
    """A blank taken from the hopper that has not left the printer yet."""

    serial: str
    job: str | None
    test: bool = False


@dataclass(slots=True)
class JobRecord:
    """A job's final outcome as ``Rjs`` tells it: DONE with a serial, or FAILED with a reason."""

    status: str
    serial: str | None = None
    reason: str | None = None


@dataclass(slots=True)
class StoredState:
    """Everything that must survive a power cycle."""

    hopper: list[SerialRange]
    ribbon_left: int
    ribbon_capacity: int
    cards_printed: int = 0
    since_cleaning: int = 0
    output_count: int = 0
    rejected_count: int = 0
    jammed: bool = False
    cover_open: bool = False
    forced: set[str] = field(default_factory=set)  # faults injected that only an operator or DELETE ends
    card_inside: CardInside | None = None
    jobs: dict[str, JobRecord] = field(default_factory=dict)

    @property
    def blanks_left(self) -> int:
        return sum(len(stack) for stack in self.hopper)

    def take_blank(self) -> str | None:
        while self.hopper and not self.hopper[0]:
            self.hopper.pop(0)
        return self.hopper[0].take() if self.hopper else None

    def next_blank(self) -> str | None:
        return next((stack.format(stack.next) for stack in self.hopper if stack), None)

    def record_job(self, job: str, record: JobRecord) -> None:
        self.jobs.pop(job, None)
        self.jobs[job] = record
        while len(self.jobs) > MAX_JOBS:
            del self.jobs[next(iter(self.jobs))]

    def to_json(self) -> dict[str, Any]:
        return {
            "hopper": [[s.prefix, s.next, s.last, s.width] for s in self.hopper],
            "ribbon_left": self.ribbon_left,
            "ribbon_capacity": self.ribbon_capacity,
            "cards_printed": self.cards_printed,
            "since_cleaning": self.since_cleaning,
            "output_count": self.output_count,
            "rejected_count": self.rejected_count,
            "jammed": self.jammed,
            "cover_open": self.cover_open,
            "forced": sorted(self.forced),
            "card_inside": None
            if self.card_inside is None
            else {
                "serial": self.card_inside.serial,
                "job": self.card_inside.job,
                "test": self.card_inside.test,
            },
            "jobs": {job: [r.status, r.serial, r.reason] for job, r in self.jobs.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoredState:
        inside = data.get("card_inside")
        return cls(
            hopper=[SerialRange(*item) for item in data["hopper"]],
            ribbon_left=int(data["ribbon_left"]),
            ribbon_capacity=int(data["ribbon_capacity"]),
            cards_printed=int(data["cards_printed"]),
            since_cleaning=int(data["since_cleaning"]),
            output_count=int(data["output_count"]),
            rejected_count=int(data["rejected_count"]),
            jammed=bool(data["jammed"]),
            cover_open=bool(data["cover_open"]),
            forced=set(data["forced"]),
            card_inside=None if inside is None else CardInside(inside["serial"], inside["job"], inside["test"]),
            jobs={job: JobRecord(*record) for job, record in data["jobs"].items()},
        )


class StateStore:
    """Loads and saves ``StoredState`` and appends to the card log, in a directory or in memory."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self._memory: list[dict[str, Any]] = []
        self._log: IO[str] | None = None
        self.last_record: dict[str, Any] | None = None
        self.records_written = 0
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)
            self._cut_partial_line(directory / "cards.jsonl")
            existing = self._read_log()
            self.records_written = len(existing)
            self.last_record = existing[-1] if existing else None
            self._log = (directory / "cards.jsonl").open("a", encoding="utf-8")

    @property
    def _state_file(self) -> Path | None:
        return None if self.directory is None else self.directory / "state.json"

    def load(self) -> StoredState | None:
        path = self._state_file
        if path is None or not path.exists():
            return None
        return StoredState.from_json(json.loads(path.read_text(encoding="utf-8")))

    def save(self, state: StoredState) -> None:
        path = self._state_file
        if path is None:
            return
        # Write aside then rename: a crash leaves the old state or the new one, never half of one.
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state.to_json()), encoding="utf-8")
        os.replace(tmp, path)

    def append(self, record: dict[str, Any]) -> None:
        self.records_written += 1
        self.last_record = record
        if self._log is None:
            self._memory.append(record)
            return
        self._log.write(json.dumps(record) + "\n")
        self._log.flush()

    def records(self) -> list[dict[str, Any]]:
        """Every card the printer output, oldest first."""
        return list(self._memory) if self.directory is None else self._read_log()

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    @staticmethod
    def _cut_partial_line(path: Path) -> None:
        # A line cut short by a crash is not a card that came out; appending after it would spoil the next.
        if not path.exists():
            return
        data = path.read_bytes()
        if data and not data.endswith(b"\n"):
            with path.open("r+b") as log:
                log.truncate(data.rfind(b"\n") + 1)

    def _read_log(self) -> list[dict[str, Any]]:
        assert self.directory is not None
        path = self.directory / "cards.jsonl"
        if not path.exists():
            return []
        with path.open(encoding="utf-8") as lines:
            return [json.loads(line) for line in lines if line.endswith("\n")]
