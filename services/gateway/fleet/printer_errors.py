"""What went wrong at a printer, in our own words: the ``last_error`` of a printer and the reason of a job.

A driver error's text carries what the far end sent (a reply it could not read, the detail after an error
word), and the far end may be no printer at all: a server's banner must never come back to an API client. So
the API shows one fixed sentence per kind of error, chosen by its class; the full text goes to the server log
only (NIKs masked there, services/common/logging.py).

    describe(ProtocolError("not a capabilities answer: 'SSH-2.0-OpenSSH_9.2'"))
    # 'the printer answered something that is not the card-printer protocol'
"""

from __future__ import annotations

from collections.abc import Sequence

from drivers import (
    DriverError,
    LinkDown,
    LinkError,
    NoAnswer,
    NotSupported,
    OutcomeUnknown,
    PrinterError,
    ProtocolError,
    Reason,
)
from drivers.errors import error_for_word
from drivers.states import parse_error_word
from services.gateway.fleet.printer_urls import UrlRefused

__all__ = ["NotReady", "describe", "job_failure"]


class NotReady(Exception):
    """Commissioning found the printer not taking work: its IPP reasons (``after_test``: after the test card)."""

    def __init__(self, reasons: Sequence[Reason], *, after_test: bool = False) -> None:
        self.reasons = tuple(reasons)
        self.after_test = after_test
        super().__init__(describe(self))


# Most specific first: the first class the error is an instance of gives its sentence.
_SENTENCES: tuple[tuple[type[BaseException], str], ...] = (
    (UrlRefused, "the printer's URL is not allowed by the gateway's settings; the port was not opened"),
    (NoAnswer, "the printer did not answer in time"),
    (LinkDown, "the printer's port could not be opened, or the link dropped"),
    (LinkError, "the link to the printer failed"),
    (OutcomeUnknown, "the link failed while a card was printing; the printer cannot tell what came out"),
    (ProtocolError, "the printer answered something that is not the card-printer protocol"),
    (NotSupported, "the printer lacks a feature the gateway needs"),
    (DriverError, "the printer driver failed"),
    (OSError, "the printer's port could not be opened"),
)
_UNEXPECTED = "an unexpected error at the printer (the gateway's log has the details)"

# A failed job's reason as the printer gives it (``Rjs`` ``FAILED;<reason>``) besides the error words.
_JOB_WORDS = {
    "REJECTED": "the printer rejected the card's commands",
    "CANCELLED": "the printer cancelled the card",
}


def describe(error: BaseException) -> str:
    """One fixed sentence for ``error``: its kind, never the bytes the far end sent."""
    if isinstance(error, NotReady):
        reasons = ", ".join(reason.value for reason in error.reasons) or "no reason given"
        when = "after the test card" if error.after_test else "before the test card"
        return f"the printer is not ready {when}: {reasons}"
    if isinstance(error, PrinterError):
        # The error word and the IPP reason are this class's own constants, not the printer's text.
        reason = error.reason
        return f"the printer reported {error.word.value}" + (f" ({reason.value})" if reason else "")
    for kind, sentence in _SENTENCES:
        if isinstance(error, kind):
            return sentence
    return _UNEXPECTED


def job_failure(reason: str | None) -> str | None:
    """A failed job's reason from the printer (``Rjs``) in our words; None if the printer named none we know."""
    if not reason:
        return None
    word = parse_error_word(reason)
    if word is not None:
        return describe(error_for_word(word))
    return _JOB_WORDS.get(reason.strip().upper())
