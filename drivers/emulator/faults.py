"""Faults the emulator can suffer, what an operator can do about them, and what stops the printer now.

A fault strikes now, or during the Nth card from now when given ``at_card`` (on the command line:
``--fault card_jam@3``; ``feeder_empty`` and ``output_full`` strike as that card is about to be fed, the others
halfway through it). ``Faults`` holds one printer's: the conditions that refuse a card (``blocking``), the
faults armed for a card, the reply shaping of ``slow_replies`` and ``split_replies``, and ``inject`` / ``clear``
/ ``act`` as the control API calls them.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from drivers.emulator.store import SerialRange
from drivers.states import ErrorWord

if TYPE_CHECKING:
    from drivers.emulator.printer import VirtualPrinter

__all__ = ["AT_FEED", "MID_CARD", "Action", "Armed", "Fault", "FaultSpec", "Faults"]


class Fault(StrEnum):
    """``POST /faults/<name>`` injects one, ``DELETE /faults/<name>`` takes it away."""

    CARD_JAM = "card_jam"  # the card stops inside; an operator must clear it
    RIBBON_OUT = "ribbon_out"
    FEEDER_EMPTY = "feeder_empty"  # the feeder fails to pick a blank, whatever is in it
    COVER_OPEN = "cover_open"
    OUTPUT_FULL = "output_full"
    LINK_DROP = "link_drop"  # the connection closes (TCP) or hangs up (pty); printing goes on
    SLOW_REPLIES = "slow_replies"  # {"delay": seconds} before every reply
    SPLIT_REPLIES = "split_replies"  # {"size": bytes, "pause": seconds}: replies in pieces
    POWER_LOSS = "power_loss"  # no answer at all until power_on; the card inside is lost to the host


class Action(StrEnum):
    """``POST /actions/<name>``: what an operator does at the printer."""

    LOAD_BLANKS = "load_blanks"  # {"serials": "KTP00000501-KTP00000600"}
    LOAD_RIBBON = "load_ribbon"  # {"prints": 250}
    OPEN_COVER = "open_cover"
    CLOSE_COVER = "close_cover"
    CLEAR_JAM = "clear_jam"  # the stuck card goes to the reject pile
    EMPTY_OUTPUT = "empty_output"
    POWER_ON = "power_on"
    POWER_OFF = "power_off"


_NAMES = frozenset(fault.value for fault in Fault)
_SPEC_RE = re.compile(r"([a-z_]+)(?:@([1-9][0-9]*))?")


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """A fault scripted on the command line: ``card_jam`` (at once) or ``card_jam@3`` (the 3rd card)."""

    fault: Fault
    at_card: int | None = None

    @classmethod
    def parse(cls, text: str) -> FaultSpec:
        match = _SPEC_RE.fullmatch(text.strip())
        if match is None or match.group(1) not in _NAMES:
            known = ", ".join(fault.value for fault in Fault)
            raise ValueError(f"bad fault {text!r}: expected NAME or NAME@CARD, NAME one of {known}")
        at_card = int(match.group(2)) if match.group(2) else None
        return cls(Fault(match.group(1)), at_card)


# When an armed fault strikes during its card: these as the card is about to be fed, the rest halfway through it.
AT_FEED = frozenset({Fault.FEEDER_EMPTY, Fault.OUTPUT_FULL})
MID_CARD = frozenset(Fault) - AT_FEED


@dataclass(slots=True)
class Armed:
    """A fault waiting for a card: ``card`` counts cards fed since the emulator started."""

    fault: Fault
    card: int
    params: dict[str, Any]


class Faults:
    """The faults on one printer: what stops it now, what is armed for a card, and the operator's actions."""

    def __init__(self, printer: VirtualPrinter) -> None:
        self._printer = printer
        self.config = printer.config
        self.state = printer.state
        self.armed: list[Armed] = []
        self.reply_delay = 0.0
        self._replies_released = asyncio.Event()
        self.split: tuple[int, float] | None = None

    # -- conditions -----------------------------------------------------------------------------------------

    @property
    def ribbon_out(self) -> bool:
        return Fault.RIBBON_OUT.value in self.state.forced or self.state.ribbon_left <= 0

    @property
    def output_full(self) -> bool:
        forced = Fault.OUTPUT_FULL.value in self.state.forced
        return forced or self.state.output_count >= self.config.output_capacity

    @property
    def feeder_empty(self) -> bool:
        return Fault.FEEDER_EMPTY.value in self.state.forced or self.state.blanks_left == 0

    @property
    def cleaning_due(self) -> bool:
        return self.state.since_cleaning >= self.config.clean_after

    def blocking(self, *, feeding: bool) -> ErrorWord | None:
        """The error word a card command gets now, by priority; None when the printer can go on."""
        state = self.state
        if state.cover_open:
            return ErrorWord.COVER_OPEN
        if state.jammed:
            return ErrorWord.CARD_JAM
        if self.ribbon_out:
            return ErrorWord.RIBBON
        if self.output_full:
            return ErrorWord.HOPPER_FULL
        if feeding and state.card_inside is None and self.feeder_empty:
            return ErrorWord.FEEDER_EMPTY
        return None

    async def hold_reply(self) -> None:
        """Wait before a reply while ``slow_replies`` is on (clearing the fault lets held replies go)."""
        if self.reply_delay:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.reply_delay):  # not wait_for: it can swallow a cancellation on 3.11
                    await self._replies_released.wait()

    # -- faults and operator actions ------------------------------------------------------------------------

    def inject(self, fault: Fault, *, at_card: int | None = None, **params: Any) -> None:
        """Make ``fault`` happen now, or during the ``at_card``-th card from now."""
        _check_params(fault, params)
        if at_card is not None:
            if at_card < 1:
                raise ValueError("at_card counts cards from now: 1 is the next card")
            self.armed.append(Armed(fault, self._printer.mechanism.cards_fed + at_card, params))
            return
        self.apply(fault, params)

    def clear(self, fault: Fault) -> None:
        """Take ``fault`` away (and any of its kind still waiting for a card)."""
        self.armed = [armed for armed in self.armed if armed.fault is not fault]
        state = self.state
        if fault is Fault.CARD_JAM:
            self._printer.mechanism.clear_jam()
        elif fault in (Fault.RIBBON_OUT, Fault.FEEDER_EMPTY, Fault.OUTPUT_FULL):
            state.forced.discard(fault.value)
        elif fault is Fault.COVER_OPEN:
            state.cover_open = False
        elif fault is Fault.SLOW_REPLIES:
            self.reply_delay = 0.0
            self._replies_released.set()  # replies held back go out now
        elif fault is Fault.SPLIT_REPLIES:
            self.split = None
        elif fault is Fault.POWER_LOSS:
            self._printer.power_on()
        self._printer.save()

    def act(self, action: Action, **params: Any) -> None:
        """Do what an operator does at the printer."""
        state = self.state
        if action is Action.LOAD_BLANKS:
            if not isinstance(params.get("serials"), str):
                raise ValueError('load_blanks needs {"serials": "KTP00000501-KTP00000600"}')
            state.hopper.append(SerialRange.parse(params["serials"]))
            state.forced.discard(Fault.FEEDER_EMPTY.value)
        elif action is Action.LOAD_RIBBON:
            prints = _integer(params.get("prints", self.config.ribbon), "prints")
            state.ribbon_left = state.ribbon_capacity = prints
            state.forced.discard(Fault.RIBBON_OUT.value)
        elif action is Action.OPEN_COVER:
            state.cover_open = True
            self._printer.mechanism.strike(ErrorWord.COVER_OPEN.value)
        elif action is Action.CLOSE_COVER:
            state.cover_open = False
        elif action is Action.CLEAR_JAM:
            self._printer.mechanism.clear_jam()
        elif action is Action.EMPTY_OUTPUT:
            state.output_count = 0
            state.forced.discard(Fault.OUTPUT_FULL.value)
        elif action is Action.POWER_ON:
            self._printer.power_on()
        elif action is Action.POWER_OFF:
            self._printer.power_off()
        self._printer.save()

    def apply(self, fault: Fault, params: dict[str, Any]) -> None:
        """The fault strikes now."""
        state, mechanism = self.state, self._printer.mechanism
        if fault is Fault.CARD_JAM:
            state.jammed = True
            mechanism.strike(ErrorWord.CARD_JAM.value)
        elif fault is Fault.RIBBON_OUT:
            state.forced.add(fault.value)
            mechanism.strike(ErrorWord.RIBBON.value)
        elif fault is Fault.COVER_OPEN:
            state.cover_open = True
            mechanism.strike(ErrorWord.COVER_OPEN.value)
        elif fault in (Fault.FEEDER_EMPTY, Fault.OUTPUT_FULL):
            state.forced.add(fault.value)
        elif fault is Fault.LINK_DROP:
            self._printer.on_link_drop()
        elif fault is Fault.SLOW_REPLIES:
            self.reply_delay = _seconds(params.get("delay", 0.5), "delay")
            self._replies_released = asyncio.Event()
        elif fault is Fault.SPLIT_REPLIES:
            self.split = (
                _integer(params.get("size", 3), "size", minimum=1),
                _seconds(params.get("pause", 0.02)),
            )
        elif fault is Fault.POWER_LOSS:
            self._printer.power_off()
        self._printer.save()

    def disarm(self, card: int, faults: frozenset[Fault]) -> list[Armed]:
        """Take the faults of these kinds armed for card ``card``: they strike now."""
        due = [armed for armed in self.armed if armed.card == card and armed.fault in faults]
        self.armed = [armed for armed in self.armed if armed not in due]
        return due


def _check_params(fault: Fault, params: dict[str, Any]) -> None:
    allowed = {Fault.SLOW_REPLIES: {"delay"}, Fault.SPLIT_REPLIES: {"size", "pause"}}.get(fault, set())
    unknown = set(params) - allowed
    if unknown:
        raise ValueError(f"{fault.value} takes no {', '.join(sorted(unknown))}")
    if fault is Fault.SLOW_REPLIES:
        _seconds(params.get("delay", 0.5), "delay")
    if fault is Fault.SPLIT_REPLIES:
        _integer(params.get("size", 3), "size", minimum=1)
        _seconds(params.get("pause", 0.02))


def _seconds(value: Any, name: str = "pause") -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 3600:
        raise ValueError(f"{name} must be a number of seconds from 0 to 3600")
    return float(value)


def _integer(value: Any, name: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}")
    return value
