"""The card-printer wire protocol (Evolis-style, DESIGN.md §9): frames, replies, status words, panel sizes.

A command frame is ``ESC command;param;param CR``. A panel download ``Dbc;<panel>;<levels>;<nbytes>`` is
followed by exactly ``nbytes`` of binary data, read by count: panel data holds 0x0D and 0x1B bytes. A reply
is ASCII ending in CR (a real Evolis sends none: the transport then takes an idle gap as the end).

Writer and parser sit side by side: ``Frame.encode`` / ``FrameParser.feed`` for commands, ``Reply.encode`` /
``Reply.decode`` for replies, ``StatusWords.encode`` / ``StatusWords.parse`` for the ``Rst`` answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import Enum, IntFlag, StrEnum

from drivers.errors import ProtocolError, error_for_word
from drivers.states import REASON_FOR_WORD, ErrorWord, PrinterState, Reason, parse_error_word

__all__ = [
    "CR",
    "ESC",
    "MAX_HEADER",
    "MAX_PAYLOAD",
    "PANELS",
    "PANEL_HEIGHT",
    "PANEL_WIDTH",
    "PAYLOAD_COMMANDS",
    "RESENDABLE",
    "SEP",
    "Cfg",
    "Command",
    "Err",
    "Extension",
    "Frame",
    "FrameParser",
    "Inf",
    "Reply",
    "StatusWords",
    "TimeoutKind",
    "War",
    "levels_for_size",
    "panel_size",
    "timeout_kind",
]

ESC = b"\x1b"
CR = b"\x0d"
SEP = b";"

PANEL_WIDTH = 1016
PANEL_HEIGHT = 648
PANELS = ("y", "m", "c", "k", "o")
_PIXELS = PANEL_WIDTH * PANEL_HEIGHT

# A longer header is noise: drop it rather than buffer without bound.
MAX_HEADER = 256
MAX_PAYLOAD = _PIXELS  # 256 levels, one byte a pixel: the largest panel


class Command(StrEnum):
    """Command mnemonics (DESIGN.md §9); ``Rcap``, ``Rst``, ``Rco`` and ``Rjs`` are extensions."""

    FIRMWARE = "Rfv"
    SERIAL_NUMBER = "Rsn"
    MODEL = "Rtp"
    CAPABILITIES = "Rcap"
    STATUS = "Rst"
    COUNTER = "Rco"
    CARD_PRESENT = "Rlr"
    JOB_STATUS = "Rjs"
    RIBBON_TYPE = "Pr"
    FEEDER = "Pmi"
    ERROR_MODE = "Pem"
    START = "Ss"
    FRONT = "Sr"
    BACK = "Sv"
    DOWNLOAD = "Dbc"
    CONTACTLESS = "Sic"
    PRINT_EJECT = "Se"
    REJECT = "Ser"
    RESET = "Srs"
    CLEAR_STATUS = "Scs"
    CLEAN = "Scp"
    TEST_CARD = "St"


class Extension(StrEnum):
    """What a printer may list after ``ext=`` in its ``Rcap`` reply; the driver uses nothing else."""

    STATUS = "Rst"
    COUNTERS = "Rco"
    JOB_STATUS = "Rjs"
    JOB_ID = "Ss.job"  # Ss takes the job id, so Rjs can answer for it
    CARD_SERIAL = "Se.serial"  # Se, Sic and St answer OK;<card serial>


class TimeoutKind(Enum):
    """Which driver time-out applies: short command, panel download, or something that moves a card."""

    SHORT = "short"
    DOWNLOAD = "download"
    CARD = "card"


_CARD_COMMANDS = frozenset(
    {
        Command.START,  # waits while a card from an earlier sequence is still printing
        Command.PRINT_EJECT,
        Command.CONTACTLESS,
        Command.REJECT,
        Command.RESET,
        Command.CLEAN,
        Command.TEST_CARD,
    }
)

# Safe to send again when the link dropped after they went out: reads, settings, and the steps of a sequence
# before Se (a second Ss restarts it, a second Dbc replaces the panel). Never a command that moves a card.
RESENDABLE = frozenset(
    {
        Command.FIRMWARE,
        Command.SERIAL_NUMBER,
        Command.MODEL,
        Command.CAPABILITIES,
        Command.STATUS,
        Command.COUNTER,
        Command.CARD_PRESENT,
        Command.JOB_STATUS,
        Command.RIBBON_TYPE,
        Command.FEEDER,
        Command.ERROR_MODE,
        Command.START,
        Command.FRONT,
        Command.BACK,
        Command.DOWNLOAD,
        Command.CLEAR_STATUS,
    }
)

# Commands followed by binary data; their last parameter is its length in bytes.
PAYLOAD_COMMANDS = frozenset({Command.DOWNLOAD.value})


def timeout_kind(command: str) -> TimeoutKind:
    """The kind of time-out a command needs."""
    if command == Command.DOWNLOAD:
        return TimeoutKind.DOWNLOAD
    if command in _CARD_COMMANDS:
        return TimeoutKind.CARD
    return TimeoutKind.SHORT


def panel_size(levels: int) -> int:
    """Bytes in one 1016×648 panel at ``levels`` grey levels (2, 4, … 256: 1 to 8 bits a pixel)."""
    bits = levels.bit_length() - 1
    if levels < 2 or levels > 256 or levels != 1 << bits:
        raise ValueError(f"levels must be a power of two from 2 to 256, not {levels}")
    return _PIXELS * bits // 8


def levels_for_size(nbytes: int) -> int:
    """The grey levels a panel of ``nbytes`` bytes carries (82,296 bytes → 2 levels … 658,368 → 256)."""
    bits, rest = divmod(nbytes * 8, _PIXELS)
    if rest or not 1 <= bits <= 8:
        raise ValueError(f"{nbytes} bytes is not a {PANEL_WIDTH}×{PANEL_HEIGHT} panel at 1 to 8 bits a pixel")
    return 1 << bits


_COMMAND_RE = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_PARAM_RE = re.compile(r"[\x20-\x3a\x3c-\x7e]*")  # printable ASCII but ';'
_COUNT_RE = re.compile(rb"[0-9]{1,9}")


@dataclass(frozen=True, slots=True)
class Frame:
    """One command: mnemonic, parameters, and for a download the data that follows the header."""

    command: str
    params: tuple[str, ...] = ()
    data: bytes = field(default=b"", repr=False)

    @classmethod
    def download(cls, panel: str, data: bytes, *, levels: int | None = None) -> Frame:
        """``Dbc;<panel>;<levels>;<nbytes>`` + data; levels follow from the size unless given."""
        if panel not in PANELS:
            raise ValueError(f"panel must be one of {', '.join(PANELS)}, not {panel!r}")
        levels = levels_for_size(len(data)) if levels is None else levels
        if panel_size(levels) != len(data):
            raise ValueError(f"panel {panel}: {len(data)} bytes, expected {panel_size(levels)} at {levels} levels")
        return cls(Command.DOWNLOAD, (panel, str(levels), str(len(data))), data)

    def encode(self) -> bytes:
        """The bytes on the wire; raises ValueError for a frame the parser could not read back."""
        return self.header() + self.data

    def header(self) -> bytes:
        """The bytes before the data (all of them but for a download); ValueError for a bad frame."""
        if not _COMMAND_RE.fullmatch(self.command):
            raise ValueError(f"bad command mnemonic {self.command!r}")
        for param in self.params:
            if not _PARAM_RE.fullmatch(param):
                raise ValueError(f"{self.command}: parameter {param!r} must be printable ASCII without ';'")
        if self.command in PAYLOAD_COMMANDS:
            if not self.params or self.params[-1] != str(len(self.data)) or len(self.data) > MAX_PAYLOAD:
                raise ValueError(f"{self.command}: the last parameter must be the data length ({len(self.data)})")
        elif self.data:
            raise ValueError(f"{self.command} carries no data")
        header = SEP.join(part.encode("ascii") for part in (self.command, *self.params))
        if len(header) > MAX_HEADER:
            raise ValueError(f"{self.command}: header longer than {MAX_HEADER} bytes")
        return ESC + header + CR


class FrameParser:
    """Feed it bytes as they arrive; it returns each complete frame once. Never raises on bad input.

    Bytes outside a frame are skipped; an ESC before the CR restarts the frame (a host that gave up on a
    command); a download's data is taken by count, whatever bytes it holds.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._pending: Frame | None = None
        self._payload = bytearray()
        self._owed = 0

    @property
    def awaiting_payload(self) -> int:
        """Bytes of download data still expected (0 between frames)."""
        return self._owed

    def reset(self) -> None:
        """Forget a partial frame or download (after a time-out)."""
        self._buffer.clear()
        self._pending = None
        self._payload = bytearray()
        self._owed = 0

    def feed(self, data: bytes) -> list[Frame]:
        """Take in ``data``; return the frames it completed, in order."""
        frames: list[Frame] = []
        view = memoryview(data)
        if self._owed and not self._buffer:
            # The common case during a download: take the data straight, no copy into the buffer first.
            view = view[self._take_payload(view, frames) :]
        if not view:
            return frames
        self._buffer += view
        buf = self._buffer
        pos = 0
        while pos < len(buf):
            if self._owed:
                pos += self._take_payload(buf[pos : pos + self._owed], frames)
                continue
            start = buf.find(ESC, pos)
            if start < 0:
                pos = len(buf)
                break
            end = buf.find(CR, start + 1)
            restart = buf.find(ESC, start + 1, end if end >= 0 else len(buf))
            if restart >= 0:
                pos = restart
                continue
            if end < 0:
                # Keep an incomplete header for the next feed unless it is already too long to be one.
                pos = len(buf) if len(buf) - start > MAX_HEADER + 1 else start
                break
            pos = end + 1
            if end - start - 1 <= MAX_HEADER:
                self._start(bytes(buf[start + 1 : end]), frames)
        del buf[:pos]
        return frames

    def _start(self, header: bytes, frames: list[Frame]) -> None:
        parts = header.split(SEP)
        # latin-1 maps every byte, so noise decodes instead of raising; the printer then answers ERROR CDE.
        frame = Frame(parts[0].decode("latin-1"), tuple(p.decode("latin-1") for p in parts[1:]))
        count = int(parts[-1]) if len(parts) > 1 and _COUNT_RE.fullmatch(parts[-1]) else -1
        if frame.command not in PAYLOAD_COMMANDS or not 0 < count <= MAX_PAYLOAD:
            frames.append(frame)
            return
        self._pending = frame
        self._owed = count
        self._payload = bytearray()

    def _take_payload(self, view: memoryview | bytearray, frames: list[Frame]) -> int:
        taken = min(self._owed, len(view))
        self._payload += view[:taken]
        self._owed -= taken
        if not self._owed and self._pending is not None:
            frames.append(replace(self._pending, data=bytes(self._payload)))
            self._pending = None
            self._payload = bytearray()
        return taken


@dataclass(frozen=True, slots=True)
class Reply:
    """A printer's answer: ``OK``, ``OK;value…``, a bare value, or an error word."""

    text: str

    @classmethod
    def decode(cls, raw: bytes) -> Reply:
        """Read a reply's bytes (without or with its CR; stray CR/LF/NUL and spaces around are dropped)."""
        return cls(raw.decode("ascii", "replace").strip("\r\n\x00 "))

    def encode(self, *, terminator: bool = True) -> bytes:
        """The bytes on the wire; ``terminator=False`` answers like a real Evolis, with no CR."""
        return self.text.encode("ascii") + (CR if terminator else b"")

    @property
    def fields(self) -> list[str]:
        return self.text.split(";")

    @property
    def ok(self) -> bool:
        return self.fields[0] == "OK"

    @property
    def error(self) -> ErrorWord | None:
        """The error word this reply carries, if it is one."""
        return parse_error_word(self.text)

    def raise_for_error(self) -> Reply:
        """Return the reply, or raise the ``PrinterError`` its error word stands for."""
        word = self.error
        if word is not None:
            raise error_for_word(word, self.text if self.text != word.value else "")
        return self

    def value(self, index: int = 1) -> str:
        """The field after ``OK`` (or the given field); ProtocolError when the printer left it out."""
        fields = self.fields
        if index >= len(fields):
            raise ProtocolError(f"reply {self.text!r} has no field {index}")
        return fields[index]


class Err(IntFlag):
    """``ERR`` status word bits: each stops the printer."""

    NONE = 0

    FEEDER_EMPTY = 0x01
    RIBBON_OUT = 0x02
    CARD_JAM = 0x04
    COVER_OPEN = 0x08
    HOPPER_FULL = 0x10


class War(IntFlag):
    """``WAR`` status word bits: each is worth telling an operator, none stops the printer."""

    NONE = 0

    RIBBON_LOW = 0x01
    NEED_CLEANING = 0x02
    FEEDER_LOW = 0x04
    HOPPER_ALMOST_FULL = 0x08


class Inf(IntFlag):
    """``INF`` status word bits: what the printer is doing."""

    NONE = 0

    PRINTING = 0x01
    CARD_INSIDE = 0x02
    SEQUENCE_OPEN = 0x04


class Cfg(IntFlag):
    """``CFG`` status word bits: how the printer is set up."""

    NONE = 0

    HOST_HANDLES_ERRORS = 0x01  # Pem;2
    FEEDER_AUTO = 0x02  # Pmi;F
    RIBBON_SET = 0x04  # Pr;… given


_ERR_WORDS = (
    (Err.COVER_OPEN, ErrorWord.COVER_OPEN),
    (Err.CARD_JAM, ErrorWord.CARD_JAM),
    (Err.RIBBON_OUT, ErrorWord.RIBBON),
    (Err.HOPPER_FULL, ErrorWord.HOPPER_FULL),
    (Err.FEEDER_EMPTY, ErrorWord.FEEDER_EMPTY),
)
_WAR_REASONS = (
    (War.RIBBON_LOW, Reason.MARKER_SUPPLY_LOW_WARNING),
    (War.FEEDER_LOW, Reason.MEDIA_LOW_WARNING),
    (War.HOPPER_ALMOST_FULL, Reason.OUTPUT_AREA_ALMOST_FULL_WARNING),
    (War.NEED_CLEANING, Reason.OTHER_WARNING),
)
_STATUS_RE = re.compile(r"CFG=([0-9A-Fa-f]{1,8});INF=([0-9A-Fa-f]{1,8});WAR=([0-9A-Fa-f]{1,8});ERR=([0-9A-Fa-f]{1,8})")


@dataclass(frozen=True, slots=True)
class StatusWords:
    """The ``Rst`` answer, ``CFG=%08X;INF=%08X;WAR=%08X;ERR=%08X``, and what it means in IPP terms."""

    cfg: Cfg = Cfg.NONE
    inf: Inf = Inf.NONE
    war: War = War.NONE
    err: Err = Err.NONE

    def encode(self) -> str:
        return f"CFG={self.cfg:08X};INF={self.inf:08X};WAR={self.war:08X};ERR={self.err:08X}"

    @classmethod
    def parse(cls, text: str) -> StatusWords:
        match = _STATUS_RE.fullmatch(text.strip())
        if match is None:
            raise ProtocolError(f"not a status answer: {text!r}")
        cfg, inf, war, err = (int(group, 16) for group in match.groups())
        return cls(Cfg(cfg), Inf(inf), War(war), Err(err))

    @property
    def blocking_word(self) -> ErrorWord | None:
        """The error word the printer answers to card commands now (the first by priority), if any."""
        return next((word for bit, word in _ERR_WORDS if self.err & bit), None)

    @property
    def state(self) -> PrinterState:
        if self.err:
            return PrinterState.STOPPED
        return PrinterState.PROCESSING if self.inf & Inf.PRINTING else PrinterState.IDLE

    @property
    def reasons(self) -> tuple[Reason, ...]:
        """Errors first, then warnings; an empty tuple is IPP's ``none``."""
        errors = [REASON_FOR_WORD[word] for bit, word in _ERR_WORDS if self.err & bit]
        warnings = [reason for bit, reason in _WAR_REASONS if self.war & bit]
        return tuple(reason for reason in (*errors, *warnings) if reason is not None)
