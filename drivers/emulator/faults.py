"""Faults the emulator can suffer and what an operator can do about them.

A fault strikes now, or during the Nth card from now when given ``at_card`` (on the command line:
``--fault card_jam@3``; ``feeder_empty`` and ``output_full`` strike as that card is about to be fed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Action", "Fault", "FaultSpec"]


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
