"""Printer states and state reasons in IPP's words (RFC 8011), and the Evolis error words that raise them.

A printer is ``idle``, ``processing`` or ``stopped``; ``reasons`` say why (an empty tuple is IPP's ``none``).
A reason ending in ``-error`` stops the printer; ``-warning`` only tells. ``offline`` means no answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

__all__ = [
    "REASON_FOR_WORD",
    "ErrorWord",
    "PrinterState",
    "Reason",
    "parse_error_word",
]


class PrinterState(StrEnum):
    """IPP printer-state: a stopped printer takes no work."""

    IDLE = "idle"
    PROCESSING = "processing"
    STOPPED = "stopped"


class Reason(StrEnum):
    """IPP printer-state-reasons keywords this driver reports."""

    MEDIA_EMPTY_ERROR = "media-empty-error"
    MEDIA_LOW_WARNING = "media-low-warning"
    MEDIA_JAM_ERROR = "media-jam-error"
    MARKER_SUPPLY_EMPTY_ERROR = "marker-supply-empty-error"
    MARKER_SUPPLY_LOW_WARNING = "marker-supply-low-warning"
    COVER_OPEN_ERROR = "cover-open-error"
    OUTPUT_AREA_FULL_ERROR = "output-area-full-error"
    OUTPUT_AREA_ALMOST_FULL_WARNING = "output-area-almost-full-warning"
    OTHER_WARNING = "other-warning"
    # RFC 8011 reads a keyword without a suffix as an error.
    OFFLINE = "offline"

    @property
    def stops_printer(self) -> bool:
        """True for errors (and ``offline``): a printer with such a reason takes no work."""
        return not self.value.endswith(("-warning", "-report"))


class ErrorWord(StrEnum):
    """The words an Evolis-style printer answers instead of ``OK`` when it cannot do what it was told."""

    FEEDER_EMPTY = "FEEDER EMPTY"
    RIBBON = "ERROR RIBBON"
    CARD_JAM = "CARD JAM"
    COVER_OPEN = "COVER OPEN"
    HOPPER_FULL = "HOPPER FULL"
    NEED_CLEANING = "NEED CLEANING"
    COMMAND = "ERROR CDE"
    PARAMETERS = "ERROR PARAMETRES"
    TIME_OUT = "ERROR TIME OUT"


REASON_FOR_WORD: Mapping[ErrorWord, Reason | None] = MappingProxyType(
    {
        ErrorWord.FEEDER_EMPTY: Reason.MEDIA_EMPTY_ERROR,
        ErrorWord.RIBBON: Reason.MARKER_SUPPLY_EMPTY_ERROR,
        ErrorWord.CARD_JAM: Reason.MEDIA_JAM_ERROR,
        ErrorWord.COVER_OPEN: Reason.COVER_OPEN_ERROR,
        ErrorWord.HOPPER_FULL: Reason.OUTPUT_AREA_FULL_ERROR,
        ErrorWord.NEED_CLEANING: Reason.OTHER_WARNING,
        # The host's own mistakes say nothing about the printer's state.
        ErrorWord.COMMAND: None,
        ErrorWord.PARAMETERS: None,
        ErrorWord.TIME_OUT: None,
    }
)

_WORDS = {word.value: word for word in ErrorWord}


def parse_error_word(text: str) -> ErrorWord | None:
    """The error word a reply's first field carries, or None for a normal answer.

    Accepts the bare Evolis word (``CARD JAM``) and the same word after ``ERROR`` (``ERROR CARD JAM``).
    """
    head = " ".join(text.split(";", 1)[0].upper().split())
    if head in _WORDS:
        return _WORDS[head]
    if head.startswith("ERROR "):
        return _WORDS.get(head.removeprefix("ERROR "))
    return None
