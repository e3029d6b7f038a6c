"""Rules of receiving a tranche: parse the ranges, refuse overlaps, insert the blanks, one ``received`` entry.

Idempotent by reference: the same body again answers with the tranche on record; another body under the
same reference is a conflict.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.idempotency import fingerprint
from services.common.problems import Conflict, FieldError, Unprocessable
from services.inventory.dependencies import auditor
from services.inventory.ledger import repository as ledger
from services.inventory.models import Tranche
from services.inventory.reorder import service as reorder
from services.inventory.states import MovementKind
from services.inventory.tranches import repository
from services.inventory.tranches.schemas import TrancheIn

__all__ = ["MAX_BLANKS_PER_TRANCHE", "ParsedRange", "parse_range", "receive"]

MAX_BLANKS_PER_TRANCHE = 200_000
_SERIAL = re.compile(r"^([A-Z]+)([0-9]+)$")


class ParsedRange:
    """A range of serials of one prefix and width: ``prefix`` + ``start``..``stop`` zero-padded to ``width``."""

    def __init__(self, prefix: str, width: int, start: int, stop: int) -> None:
        self.prefix, self.width, self.start, self.stop = prefix, width, start, stop

    @property
    def count(self) -> int:
        return self.stop - self.start + 1

    def serial(self, number: int) -> str:
        return f"{self.prefix}{number:0{self.width}d}"

    def __iter__(self) -> Iterator[str]:
        return (self.serial(n) for n in range(self.start, self.stop + 1))

    def contains(self, serial: str) -> bool:
        match = _SERIAL.match(serial)
        return (
            match is not None
            and match.group(1) == self.prefix
            and len(match.group(2)) == self.width
            and self.start <= int(match.group(2)) <= self.stop
        )


def parse_range(first: str, last: str, index: int = 0) -> ParsedRange:
    a, b = _SERIAL.match(first), _SERIAL.match(last)
    field = f"ranges.{index}"
    if a is None or b is None:
        raise Unprocessable.field(field, "serials are upper-case letters then digits, e.g. KTP00000001")
    if a.group(1) != b.group(1) or len(a.group(2)) != len(b.group(2)):
        raise Unprocessable.field(field, f"{first} and {last} differ in prefix or width")
    start, stop = int(a.group(2)), int(b.group(2))
    if stop < start:
        raise Unprocessable.field(field, f"{last} comes before {first}")
    return ParsedRange(a.group(1), len(a.group(2)), start, stop)


def _parse(body: TrancheIn) -> list[ParsedRange]:
    ranges = [parse_range(r.first, r.last, i) for i, r in enumerate(body.ranges)]
    total = sum(r.count for r in ranges)
    if total > MAX_BLANKS_PER_TRANCHE:
        raise Unprocessable.field("ranges", f"{total} blanks; a tranche holds at most {MAX_BLANKS_PER_TRANCHE}")
    errors = []
    for i, r in enumerate(ranges):
        for j, other in enumerate(ranges[:i]):
            if r.prefix == other.prefix and r.width == other.width and r.start <= other.stop and other.start <= r.stop:
                errors.append(FieldError(field=f"ranges.{i}", reason=f"overlaps ranges.{j}"))
    if errors:
        raise Unprocessable("the ranges overlap each other", kind="validation", errors=errors)
    return ranges


def _fingerprint(body: TrancheIn) -> str:
    return fingerprint("POST", "/v1/tranches", body.model_dump(mode="json"))


async def receive(session: AsyncSession, principal: Principal, body: TrancheIn) -> tuple[Tranche, bool]:
    """The tranche on record and whether it was recorded now (False: the same delivery posted again)."""
    ranges = _parse(body)
    fp = _fingerprint(body)
    await ledger.lock_stock(session)
    existing = await repository.by_reference(session, body.reference)
    if existing is not None:
        if existing.fingerprint == fp:
            return existing, False
        raise Conflict(
            f"tranche {body.reference} was already received with other details",
            kind="tranche-reference-conflict",
            tranche_id=existing.id,
        )
    clashes: list[str] = []
    for r in ranges:
        on_record = await repository.serials_between(session, r.serial(r.start), r.serial(r.stop))
        clashes.extend(s for s in on_record if r.contains(s))
    if clashes:
        clashes.sort()
        raise Conflict(
            f"{len(clashes)} serials were already received, first {clashes[0]}",
            kind="serial-overlap",
            serials=clashes[:50],
            overlapping=len(clashes),
        )
    if body.proposal_id is not None:
        await reorder.proposal_for_tranche(session, principal, body.proposal_id)
    count = sum(r.count for r in ranges)
    tranche = Tranche(
        reference=body.reference,
        proposal_id=body.proposal_id,
        received_on=body.received_on,
        received_by=body.received_by,
        ranges=[{"first": r.serial(r.start), "last": r.serial(r.stop)} for r in ranges],
        count=count,
        fingerprint=fp,
        recorded_by=principal.subject,
    )
    session.add(tranche)
    await session.flush()
    for r in ranges:
        await repository.insert_blanks(session, tranche.id, r)
    await ledger.execute_together(session, [ledger.bump_counters(unused=count)])
    ledger.add_movement(
        session,
        kind=MovementKind.RECEIVED,
        actor=principal.subject,
        quantity=count,
        tranche_id=tranche.id,
        reason=f"tranche {body.reference} received by {body.received_by}",
    )
    auditor.record(
        session,
        principal,
        "tranche.received",
        "tranche",
        tranche.id,
        after={"reference": body.reference, "count": count, "ranges": tranche.ranges, "proposal_id": body.proposal_id},
    )
    await session.flush()
    return tranche, True
