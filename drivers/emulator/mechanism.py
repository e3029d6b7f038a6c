"""The card path of an emulated printer: a blank fed for a sequence, printed and ejected, or rejected; the card log.

A sequence (``Ss`` … ``Se``) holds its job, the side being downloaded and the panels' digests; a blank is fed for
it by ``Sic`` or ``Se``. While a card prints, an interrupt (an error word, or ``POWER``) can stop it: a jammed
card stays inside until an operator clears it, any other goes to the reject box. Every card that leaves the
printer gets one line in the card log.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from drivers.emulator.faults import AT_FEED, MID_CARD
from drivers.emulator.store import CardInside, JobRecord, StateStore
from drivers.states import ErrorWord

if TYPE_CHECKING:
    from drivers.emulator.printer import VirtualPrinter

__all__ = ["POWER", "Mechanism", "Refusal", "Sequence"]

POWER = "POWER"  # what interrupts a card when the power goes; never sent to the host


class Refusal(Exception):
    """A command answered with an error word."""

    def __init__(self, word: ErrorWord) -> None:
        super().__init__(word.value)
        self.word = word


@dataclass(slots=True)
class Sequence:
    """An open card sequence (Ss … Se): its job, the side being downloaded, panel digests, the card fed."""

    job: str | None
    test: bool = False
    side: str = "front"
    panels: dict[str, dict[str, str]] = field(default_factory=lambda: {"front": {}, "back": {}})
    card: CardInside | None = None
    number: int = 0  # the card's number since the emulator started (what ``@N`` faults count)


class Mechanism:
    """Feeds, prints, ejects and rejects one printer's cards; a card command holds ``lock`` while it runs."""

    def __init__(self, printer: VirtualPrinter, store: StateStore) -> None:
        self._printer = printer
        self.config = printer.config
        self.state = printer.state
        self._store = store
        self.lock = asyncio.Lock()
        self.sequence: Sequence | None = None
        self.printing: CardInside | None = None
        self._interrupt: asyncio.Future[str] | None = None
        self.cards_fed = 0

    def boot(self) -> None:
        """Power-on: a card left inside by a power loss (or a killed emulator) goes to the reject box."""
        card = self.state.card_inside
        if card is not None and not self.state.jammed:
            last = self._store.last_record
            if last is not None and last.get("serial") == card.serial:
                self.state.card_inside = None  # it was logged out just before the crash
            else:
                self.reject(card, "POWER LOSS")

    def stop(self) -> None:
        """The power goes: the card inside stops where it is and the open sequence is forgotten."""
        self.strike(POWER)
        self.sequence = None

    # -- a card's way through -------------------------------------------------------------------------------

    def start(self, job: str | None) -> None:
        """``Ss``: open a sequence for ``job``, ending any open one; refuse if the printer is stopped."""
        self.abandon_sequence("CANCELLED")
        if job is not None:
            self.state.jobs.pop(job, None)  # a new attempt: the old outcome no longer answers for it
        word = self._printer.faults.blocking(feeding=True)
        if word is not None:
            if job is not None:
                self.state.record_job(job, JobRecord("FAILED", reason=word.value))
            self._printer.save()
            raise Refusal(word)
        self.sequence = Sequence(job)

    def open_sequence(self) -> Sequence:
        """The sequence open now; a command that needs one (Sr, Dbc, Sic, Se) is refused without an Ss first."""
        if self.sequence is None:
            raise Refusal(ErrorWord.COMMAND)
        return self.sequence

    def feed(self, sequence: Sequence) -> CardInside:
        """Take the next blank from the hopper for ``sequence``; refuse if the printer is stopped."""
        faults = self._printer.faults
        number = self.cards_fed + 1
        for armed in faults.disarm(number, AT_FEED):
            self.state.forced.add(armed.fault.value)
        word = faults.blocking(feeding=True)
        if word is not None:
            if sequence.job is not None:
                self.state.record_job(sequence.job, JobRecord("FAILED", reason=word.value))
            self._printer.save()
            raise Refusal(word)
        serial = self.state.take_blank()
        assert serial is not None  # blocking() saw blanks
        self.cards_fed = number
        card = CardInside(serial, sequence.job, sequence.test)
        sequence.card, sequence.number = card, number
        self.state.card_inside = card
        if sequence.job is not None:
            self.state.jobs.pop(sequence.job, None)
        self._printer.save()
        return card

    async def print(self, sequence: Sequence) -> str | None:
        """Print and eject the sequence's card: its serial (None: the power went), or refuse with what went wrong."""
        card = sequence.card
        assert card is not None
        outcome = await self._run_print(sequence)
        if outcome == POWER:
            return None  # nobody is listening any more
        state = self.state
        if outcome is None:
            sides = sum(1 for panels in sequence.panels.values() if panels) or 1
            state.ribbon_left = max(0, state.ribbon_left - sides)
            state.cards_printed += 1
            state.since_cleaning += 1
            state.output_count += 1
            state.card_inside = None
            if card.job is not None:
                state.record_job(card.job, JobRecord("DONE", serial=card.serial))
            digests = {f"{side}.{panel}": digest for side, d in sequence.panels.items() for panel, digest in d.items()}
            self._log(card, "printed", None, digests)
            self._printer.save()
            return card.serial
        word = ErrorWord(outcome)
        if card.job is not None:
            state.record_job(card.job, JobRecord("FAILED", serial=card.serial, reason=word.value))
        if word is not ErrorWord.CARD_JAM:
            self.reject(card, word.value)  # a jammed card stays inside until an operator clears it
        self._printer.save()
        raise Refusal(word)

    async def _run_print(self, sequence: Sequence) -> str | None:
        """Wait one card's print time; return None, or what interrupted it (an error word, or POWER)."""
        faults = self._printer.faults
        interrupt = self._new_interrupt()
        self.printing = sequence.card
        try:
            left = self.config.print_time
            strikes = faults.disarm(sequence.number, MID_CARD)
            if strikes:
                # Scripted faults strike halfway through the card.
                if await _wait_interrupt(interrupt, left / 2):
                    return interrupt.result()
                for armed in strikes:
                    faults.apply(armed.fault, armed.params)
                left -= left / 2
            if await _wait_interrupt(interrupt, left):
                return interrupt.result()
            return None
        finally:
            self._interrupt = None
            self.printing = None

    async def clean(self) -> bool:
        """``Scs``: pass the cleaning card (one print time); False when the power went, refuse when it cannot pass."""
        if self.state.cover_open:
            raise Refusal(ErrorWord.COVER_OPEN)
        if self.state.jammed:
            raise Refusal(ErrorWord.CARD_JAM)
        if self.state.card_inside is not None or self.sequence is not None:
            raise Refusal(ErrorWord.COMMAND)  # the cleaning card cannot pass a card inside
        interrupt = self._new_interrupt()
        try:
            if await _wait_interrupt(interrupt, self.config.print_time):
                if interrupt.result() == POWER:
                    return False
                raise Refusal(ErrorWord(interrupt.result()))
        finally:
            self._interrupt = None
        self.state.since_cleaning = 0
        self._printer.save()
        return True

    def strike(self, word: str) -> None:
        """Interrupt the card being printed (or the cleaning card), if any."""
        if self._interrupt is not None and not self._interrupt.done():
            self._interrupt.set_result(word)

    def _new_interrupt(self) -> asyncio.Future[str]:
        self._interrupt = asyncio.get_running_loop().create_future()
        return self._interrupt

    # -- cards out of the way -------------------------------------------------------------------------------

    def reject(self, card: CardInside, reason: str) -> None:
        """The card leaves the printer into the reject box."""
        self.state.card_inside = None
        self.state.rejected_count += 1
        self._log(card, "rejected", reason)

    def abandon_sequence(self, reason: str) -> None:
        """End the open sequence: its job fails, a card fed for it goes to the reject box."""
        sequence, self.sequence = self.sequence, None
        if sequence is None:
            return
        if sequence.job is not None:
            serial = None if sequence.card is None else sequence.card.serial
            self.state.record_job(sequence.job, JobRecord("FAILED", serial=serial, reason=reason))
        if sequence.card is not None and self.state.card_inside is sequence.card and not self.state.jammed:
            self.reject(sequence.card, reason)

    def clear_jam(self) -> None:
        """An operator clears a jam: the stuck card goes to the reject box, a spoiled blank."""
        if not self.state.jammed:
            return
        self.state.jammed = False
        card = self.state.card_inside
        if card is not None:
            self.reject(card, ErrorWord.CARD_JAM.value)
        if self.sequence is not None and self.sequence.card is card:
            self.sequence = None

    # -- the card log ---------------------------------------------------------------------------------------

    def _log(self, card: CardInside, outcome: str, reason: str | None, panels: dict[str, str] | None = None) -> None:
        record: dict[str, Any] = {
            "seq": self._store.records_written + 1,
            "time": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "printer": self.config.name,
            "job": card.job,
            "serial": card.serial,
            "outcome": outcome,
            "reason": reason,
            "test": card.test,
        }
        if panels:
            record["panels"] = panels
        self._store.append(record)

    def card_log(self) -> list[dict[str, Any]]:
        return self._store.records()

    @property
    def cards_logged(self) -> int:
        return self._store.records_written


async def _wait_interrupt(interrupt: asyncio.Future[str], seconds: float) -> bool:
    if not interrupt.done():
        await asyncio.wait({interrupt}, timeout=seconds)
    return interrupt.done()
