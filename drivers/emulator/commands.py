"""The emulated printer's answer to every command of DESIGN.md §9: one handler a command, keyed in one table.

Commands that move a card take the mechanism's lock one at a time; questions (``R…``) are answered at once, even
while a card prints, as a real printer answers status requests mid-card. A handler refuses with ``Refusal``
(an error word); a command the printer does not know, or an extension it lacks, gets ``ERROR CDE``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from drivers.emulator.mechanism import Refusal, Sequence
from drivers.protocol import PANELS, Cfg, Command, Err, Extension, Frame, Inf, StatusWords, War, panel_size
from drivers.states import ErrorWord

if TYPE_CHECKING:
    from drivers.emulator.printer import VirtualPrinter

__all__ = ["CommandTable"]

Handler = Callable[[tuple[str, ...], bytes], Awaitable[str]]

_RIBBON_TYPE_RE = re.compile(r"[A-Za-z]{1,8}")


class CommandTable:
    """``await execute(frame)`` gives one printer's reply text (None: no answer); also its ``Rst`` and ``Rjs``."""

    def __init__(self, printer: VirtualPrinter) -> None:
        self._printer = printer
        self.config = printer.config
        self.state = printer.state
        self._mechanism = printer.mechanism
        self._faults = printer.faults
        self.last_error: str | None = None
        self.received = 0
        self._cfg = Cfg(0)
        self._handlers: dict[str, tuple[Handler, Extension | None]] = {
            Command.FIRMWARE: (self._firmware, None),
            Command.SERIAL_NUMBER: (self._serial_number, None),
            Command.MODEL: (self._model, None),
            Command.CAPABILITIES: (self._capabilities, None),
            Command.STATUS: (self._status, Extension.STATUS),
            Command.COUNTER: (self._counter, Extension.COUNTERS),
            Command.CARD_PRESENT: (self._card_present, None),
            Command.JOB_STATUS: (self._job_status, Extension.JOB_STATUS),
            Command.RIBBON_TYPE: (self._ribbon_type, None),
            Command.FEEDER: (self._feeder, None),
            Command.ERROR_MODE: (self._error_mode, None),
            Command.START: (self._start, None),
            Command.FRONT: (self._front, None),
            Command.BACK: (self._back, None),
            Command.DOWNLOAD: (self._download, None),
            Command.CONTACTLESS: (self._contactless, None),
            Command.PRINT_EJECT: (self._print_eject, None),
            Command.REJECT: (self._reject, None),
            Command.RESET: (self._reset, None),
            Command.CLEAR_STATUS: (self._clear_status, None),
            Command.CLEAN: (self._clean, None),
            Command.TEST_CARD: (self._test_card, None),
        }

    async def execute(self, frame: Frame) -> str | None:
        """The reply to one command; None when the printer is off (or went off while it worked)."""
        if not self._printer.powered:
            return None
        self.received += 1
        handler, extension = self._handlers.get(frame.command, (None, None))
        known = handler is not None and (extension is None or extension.value in self.config.extensions)
        if frame.command == Command.CAPABILITIES and not self.config.extensions:
            known = False  # a plain Evolis does not know Rcap at all
        try:
            if handler is None or not known:
                raise Refusal(ErrorWord.COMMAND)
            reply = await handler(frame.params, frame.data)
        except Refusal as refusal:
            reply = refusal.word.value
            self.last_error = reply
        return reply if self._printer.powered else None

    def status_words(self) -> StatusWords:
        """The ``Rst`` answer for the printer as it is now."""
        state, config, faults, mechanism = self.state, self.config, self._faults, self._mechanism
        err = Err(0)
        for condition, bit in (
            (faults.feeder_empty, Err.FEEDER_EMPTY),
            (faults.ribbon_out, Err.RIBBON_OUT),
            (state.jammed, Err.CARD_JAM),
            (state.cover_open, Err.COVER_OPEN),
            (faults.output_full, Err.HOPPER_FULL),
        ):
            if condition:
                err |= bit
        war = War(0)
        for condition, warning in (
            (not faults.ribbon_out and state.ribbon_left <= config.ribbon_low_at, War.RIBBON_LOW),
            (faults.cleaning_due, War.NEED_CLEANING),
            (not faults.feeder_empty and state.blanks_left <= config.feeder_low, War.FEEDER_LOW),
            (
                not faults.output_full and state.output_count >= 0.9 * config.output_capacity,
                War.HOPPER_ALMOST_FULL,
            ),
        ):
            if condition:
                war |= warning
        inf = Inf(0)
        if mechanism.printing is not None:
            inf |= Inf.PRINTING
        if state.card_inside is not None:
            inf |= Inf.CARD_INSIDE
        if mechanism.sequence is not None:
            inf |= Inf.SEQUENCE_OPEN
        return StatusWords(self._cfg, inf, war, err)

    def job_status(self, job: str) -> str:
        """``Rjs``: DONE;serial / PRINTING / FAILED;reason[;serial of the blank used] / UNKNOWN."""
        record = self.state.jobs.get(job)
        if record is not None:
            if record.status == "DONE":
                return f"DONE;{record.serial}"
            # A blank fed for a failed job was used: its serial lets the host record the spoiled card.
            return f"FAILED;{record.reason};{record.serial}" if record.serial else f"FAILED;{record.reason}"
        inside = self.state.card_inside
        return "PRINTING" if inside is not None and inside.job == job else "UNKNOWN"

    # -- questions ------------------------------------------------------------------------------------------

    async def _firmware(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 0)
        return self.config.firmware

    async def _serial_number(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 0)
        return self.config.serial_number

    async def _model(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 0)
        return self.config.model

    async def _capabilities(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 0)
        return f"OK;ext={','.join(sorted(self.config.extensions))};ptime={self.config.print_time:.6g}"

    async def _status(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 0)
        return self.status_words().encode()

    async def _counter(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 1)
        if params[0] == "c":
            return str(self.state.cards_printed)
        if params[0] == "r":
            return str(self.state.ribbon_left)
        raise Refusal(ErrorWord.PARAMETERS)

    async def _card_present(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 1)
        if params[0] != "p":
            raise Refusal(ErrorWord.PARAMETERS)
        word = self.status_words().blocking_word
        if word is not None:
            raise Refusal(word)
        if self._faults.cleaning_due:
            raise Refusal(ErrorWord.NEED_CLEANING)
        return "CARD" if self.state.card_inside is not None else "OK"

    async def _job_status(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 1)
        return self.job_status(params[0])

    # -- settings -------------------------------------------------------------------------------------------

    async def _ribbon_type(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 1)
        if not _RIBBON_TYPE_RE.fullmatch(params[0]):
            raise Refusal(ErrorWord.PARAMETERS)
        self._cfg |= Cfg.RIBBON_SET
        return "OK"

    async def _feeder(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 1)
        if params[0] not in ("F", "M", "B"):
            raise Refusal(ErrorWord.PARAMETERS)
        self._cfg = self._cfg | Cfg.FEEDER_AUTO if params[0] == "F" else self._cfg & ~Cfg.FEEDER_AUTO
        return "OK"

    async def _error_mode(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 1)
        if params[0] not in ("0", "1", "2"):
            raise Refusal(ErrorWord.PARAMETERS)
        mode = Cfg.HOST_HANDLES_ERRORS
        self._cfg = self._cfg | mode if params[0] == "2" else self._cfg & ~mode
        return "OK"

    # -- a card sequence ------------------------------------------------------------------------------------

    async def _start(self, params: tuple[str, ...], data: bytes) -> str:
        if Extension.JOB_ID.value in self.config.extensions:
            _expect(params, 0, 1)
        else:
            _expect(params, 0)  # a plain printer takes no job id
        job = params[0] if params and params[0] else None
        async with self._mechanism.lock:
            self._mechanism.start(job)
            return "OK"

    async def _front(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 0)
        self._mechanism.open_sequence().side = "front"
        return "OK"

    async def _back(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 0)
        self._mechanism.open_sequence().side = "back"
        return "OK"

    async def _download(self, params: tuple[str, ...], data: bytes) -> str:
        sequence = self._mechanism.open_sequence()
        _expect(params, 3)
        panel, levels, size = params
        try:
            expected = panel_size(int(levels))
        except ValueError:
            raise Refusal(ErrorWord.PARAMETERS) from None
        if panel not in PANELS or size != str(expected) or len(data) != expected:
            raise Refusal(ErrorWord.PARAMETERS)
        sequence.panels[sequence.side][panel] = hashlib.sha256(data).hexdigest()[:16]
        return "OK"

    async def _contactless(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 0)
        mechanism = self._mechanism
        async with mechanism.lock:
            sequence = mechanism.open_sequence()
            card = sequence.card or mechanism.feed(sequence)
            return self._ok_serial(card.serial)

    async def _print_eject(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 0)
        mechanism = self._mechanism
        async with mechanism.lock:
            sequence = mechanism.open_sequence()
            try:
                if sequence.card is None:
                    mechanism.feed(sequence)
                else:
                    word = self._faults.blocking(feeding=False)
                    if word is not None:
                        raise Refusal(word)
                return self._ok_serial(await mechanism.print(sequence))
            finally:
                if mechanism.sequence is sequence:
                    mechanism.sequence = None

    # -- maintenance ----------------------------------------------------------------------------------------

    async def _test_card(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 0)
        mechanism = self._mechanism
        async with mechanism.lock:
            if mechanism.sequence is not None:
                raise Refusal(ErrorWord.COMMAND)
            sequence = Sequence(job=None, test=True)
            mechanism.feed(sequence)
            return self._ok_serial(await mechanism.print(sequence))

    async def _reject(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 0)
        async with self._mechanism.lock:
            if self.state.jammed:
                raise Refusal(ErrorWord.CARD_JAM)
            self._mechanism.abandon_sequence("REJECTED")
            self._printer.save()
            return "OK"

    async def _reset(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 0)
        async with self._mechanism.lock:
            self._mechanism.abandon_sequence("RESET")
            self.last_error = None
            self._printer.save()
            return "OK"

    async def _clear_status(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 0)
        self.last_error = None
        return "OK"

    async def _clean(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 0)
        async with self._mechanism.lock:
            return "OK" if await self._mechanism.clean() else ""

    def _ok_serial(self, serial: str | None) -> str:
        """``OK;<serial>`` with the ``Se.serial`` extension, else ``OK``; "" when the power went mid-card."""
        if serial is None:
            return ""  # nobody is listening any more
        return f"OK;{serial}" if Extension.CARD_SERIAL.value in self.config.extensions else "OK"


def _expect(params: tuple[str, ...], *counts: int) -> None:
    if len(params) not in counts:
        raise Refusal(ErrorWord.PARAMETERS)
