"""Exceptions the driver raises; catch ``DriverError`` for all of them.

Exception tree::

    DriverError
     ├── LinkError                the link to the printer failed
     │    ├── LinkDown            the port cannot be opened, or the link dropped
     │    └── NoAnswer            no reply within the time-out (IPP: offline)
     ├── OutcomeUnknown           the link failed while a card was printing and the printer cannot tell what
     │                            became of it: put the job to review, never reprint it blindly
     ├── ProtocolError            the printer answered something this driver cannot read
     ├── NotSupported             the printer lacks the extension the call needs
     └── PrinterError             the printer answered an Evolis error word (``word``, IPP ``reason``)
          ├── FeederEmpty         FEEDER EMPTY       media-empty-error
          ├── RibbonError         ERROR RIBBON       marker-supply-empty-error
          ├── CardJam             CARD JAM           media-jam-error
          ├── CoverOpen           COVER OPEN         cover-open-error
          ├── HopperFull          HOPPER FULL        output-area-full-error
          ├── NeedsCleaning       NEED CLEANING      other-warning
          ├── CommandRejected     ERROR CDE          (the command is unknown or not allowed now)
          ├── BadParameters       ERROR PARAMETRES   (a parameter or a download size is wrong)
          └── PrinterTimedOut     ERROR TIME OUT     (the printer gave up waiting for download data)

``print_card`` promises: it returns the card serial (printed), raises a ``PrinterError`` or a ``LinkError``
(no card was printed for this job), or raises ``OutcomeUnknown``.
"""

from __future__ import annotations

from typing import ClassVar

from drivers.states import REASON_FOR_WORD, ErrorWord, Reason

__all__ = [
    "BadParameters",
    "CardJam",
    "CommandRejected",
    "CoverOpen",
    "DriverError",
    "FeederEmpty",
    "HopperFull",
    "LinkDown",
    "LinkError",
    "NeedsCleaning",
    "NoAnswer",
    "NotSupported",
    "OutcomeUnknown",
    "PrinterError",
    "PrinterTimedOut",
    "ProtocolError",
    "RibbonError",
    "error_for_word",
]


class DriverError(Exception):
    """Anything the card-printer driver raises on purpose."""


class LinkError(DriverError):
    """The link to the printer failed; the transport reopens it on the next command."""


class LinkDown(LinkError):
    """The port cannot be opened, or the link dropped while a command was under way."""


class NoAnswer(LinkError):
    """The printer did not answer within the time-out: report it ``offline``."""


class OutcomeUnknown(DriverError):
    """The card may or may not have been printed: send the job to review and look at the output tray."""

    def __init__(self, job_id: str, detail: str) -> None:
        super().__init__(f"job {job_id}: outcome unknown ({detail})")
        self.job_id = job_id


class ProtocolError(DriverError):
    """The printer's reply does not follow the protocol (wrong field count, not a number …)."""


class NotSupported(DriverError):
    """The printer did not list the extension this call needs in its ``Rcap`` reply."""


class PrinterError(DriverError):
    """The printer refused or failed a command with an Evolis error word."""

    word: ClassVar[ErrorWord]

    def __init__(self, detail: str = "") -> None:
        super().__init__(f"{self.word}{': ' + detail if detail else ''}")

    @property
    def reason(self) -> Reason | None:
        """The IPP printer-state-reason this error puts the printer in (None for the host's own mistakes)."""
        return REASON_FOR_WORD[self.word]


class FeederEmpty(PrinterError):
    """No blank card could be fed: load blanks (IPP media-empty-error)."""

    word = ErrorWord.FEEDER_EMPTY


class RibbonError(PrinterError):
    """The ribbon is finished or broken: load a ribbon (IPP marker-supply-empty-error)."""

    word = ErrorWord.RIBBON


class CardJam(PrinterError):
    """A card is stuck in the printer: an operator must clear it (IPP media-jam-error)."""

    word = ErrorWord.CARD_JAM


class CoverOpen(PrinterError):
    """The printer's cover is open (IPP cover-open-error)."""

    word = ErrorWord.COVER_OPEN


class HopperFull(PrinterError):
    """The output hopper is full: take the printed cards out (IPP output-area-full-error)."""

    word = ErrorWord.HOPPER_FULL


class NeedsCleaning(PrinterError):
    """The printer wants a cleaning cycle (IPP other-warning)."""

    word = ErrorWord.NEED_CLEANING


class CommandRejected(PrinterError):
    """The printer does not know the command, or it is not allowed now (e.g. ``Se`` outside a sequence)."""

    word = ErrorWord.COMMAND


class BadParameters(PrinterError):
    """A parameter is wrong, e.g. a panel download whose size does not match its levels."""

    word = ErrorWord.PARAMETERS


class PrinterTimedOut(PrinterError):
    """The printer gave up waiting for the rest of a download."""

    word = ErrorWord.TIME_OUT


_ERROR_FOR_WORD: dict[ErrorWord, type[PrinterError]] = {
    cls.word: cls
    for cls in (
        FeederEmpty,
        RibbonError,
        CardJam,
        CoverOpen,
        HopperFull,
        NeedsCleaning,
        CommandRejected,
        BadParameters,
        PrinterTimedOut,
    )
}


def error_for_word(word: ErrorWord, detail: str = "") -> PrinterError:
    """The exception to raise for an error word the printer answered."""
    return _ERROR_FOR_WORD[word](detail)
