"""The emulated printer: its mechanics, supplies and faults, and its answer to every command of DESIGN.md §9.

It knows nothing of ports: ``links`` feeds it frames and sends back what ``execute`` returns. Commands that
move a card take the mechanism lock one at a time; questions (``R…``) are answered at once, even while a card
prints, as a real printer answers status requests mid-card.

Jobs: a job is unknown until a card is fed for it; then PRINTING while the card is inside; then DONE (output
hopper) or FAILED (reason). A power loss forgets the job of the card inside: ``Rjs`` answers UNKNOWN, and the
card goes to the reject box when power returns.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from drivers.emulator.config import EmulatorConfig
from drivers.emulator.faults import Action, Fault, FaultSpec
from drivers.emulator.state import CardInside, JobRecord, SerialRange, StateStore, StoredState
from drivers.protocol import PANELS, Cfg, Command, Err, Extension, Frame, Inf, StatusWords, War, panel_size
from drivers.states import ErrorWord, PrinterState

__all__ = ["VirtualPrinter"]

Handler = Callable[[tuple[str, ...], bytes], Awaitable[str]]

_POWER = "POWER"  # what interrupts a card when the power goes; never sent to the host
_INTERRUPTING = {Fault.CARD_JAM, Fault.RIBBON_OUT, Fault.COVER_OPEN, Fault.POWER_LOSS, Fault.LINK_DROP}
_AT_FEED = {Fault.FEEDER_EMPTY, Fault.OUTPUT_FULL}  # these strike as the card is about to be fed
_RIBBON_TYPE_RE = re.compile(r"[A-Za-z]{1,8}")


def _nothing() -> None:
    pass


class _Refusal(Exception):
    """A command answered with an error word."""

    def __init__(self, word: ErrorWord) -> None:
        super().__init__(word.value)
        self.word = word


@dataclass(slots=True)
class _Sequence:
    """An open card sequence (Ss … Se): its job, the side being downloaded, panel digests, the card fed."""

    job: str | None
    test: bool = False
    side: str = "front"
    panels: dict[str, dict[str, str]] = field(default_factory=lambda: {"front": {}, "back": {}})
    card: CardInside | None = None
    number: int = 0  # the card's number since the emulator started (what ``@N`` faults count)


@dataclass(slots=True)
class _Armed:
    fault: Fault
    card: int
    params: dict[str, Any]


class VirtualPrinter:
    """One emulated card printer; ``await execute(frame)`` gives the reply text (None: no answer)."""

    def __init__(self, config: EmulatorConfig, store: StateStore) -> None:
        self.config = config
        self._store = store
        self.state = store.load() or StoredState(
            hopper=[SerialRange.parse(config.serials)],
            ribbon_left=config.ribbon,
            ribbon_capacity=config.ribbon,
        )
        self.powered = True
        self.reply_delay = 0.0
        self._replies_released = asyncio.Event()
        self.split: tuple[int, float] | None = None
        self.last_error: str | None = None
        self.commands_received = 0
        self.on_link_drop: Callable[[], None] = _nothing
        self.on_power_loss: Callable[[], None] = _nothing
        self._mechanism = asyncio.Lock()
        self._sequence: _Sequence | None = None
        self._printing: CardInside | None = None
        self._interrupt: asyncio.Future[str] | None = None
        self._cards_fed = 0
        self._armed: list[_Armed] = []
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
            Command.REJECT: (self._reject_command, None),
            Command.RESET: (self._reset, None),
            Command.CLEAR_STATUS: (self._clear_status, None),
            Command.CLEAN: (self._clean, None),
            Command.TEST_CARD: (self._test_card, None),
        }

    # -- life cycle -------------------------------------------------------------------------------------

    def boot(self) -> None:
        """Power-on: a card left inside by a power loss (or a killed emulator) goes to the reject box."""
        card = self.state.card_inside
        if card is not None and not self.state.jammed:
            last = self._store.last_record
            if last is not None and last.get("serial") == card.serial:
                self.state.card_inside = None  # it was logged out just before the crash
            else:
                self._reject(card, "POWER LOSS")
        self._save()

    def arm_scripted_faults(self) -> None:
        """Apply the faults given in the configuration (``card_jam@3``: during the 3rd card from now)."""
        for text in self.config.faults:
            spec = FaultSpec.parse(text)
            self.inject(spec.fault, at_card=spec.at_card)

    def power_off(self) -> None:
        """The power goes: no more answers, the card inside stops where it is, the host's link drops."""
        if not self.powered:
            return
        self.powered = False
        self._strike(_POWER)
        self._sequence = None
        self._save()
        self.on_power_loss()

    def power_on(self) -> None:
        if self.powered:
            return
        self.powered = True
        self.boot()

    def close(self) -> None:
        self._save()
        self._store.close()

    async def hold_reply(self) -> None:
        """Wait before a reply while ``slow_replies`` is on (clearing the fault lets held replies go)."""
        if self.reply_delay:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.reply_delay):  # not wait_for: it can swallow a cancellation on 3.11
                    await self._replies_released.wait()

    # -- commands -------------------------------------------------------------------------------------------

    async def execute(self, frame: Frame) -> str | None:
        """The reply to one command; None when the printer is off (or went off while it worked)."""
        if not self.powered:
            return None
        self.commands_received += 1
        handler, extension = self._handlers.get(frame.command, (None, None))
        known = handler is not None and (extension is None or extension.value in self.config.extensions)
        if frame.command == Command.CAPABILITIES and not self.config.extensions:
            known = False  # a plain Evolis does not know Rcap at all
        try:
            if handler is None or not known:
                raise _Refusal(ErrorWord.COMMAND)
            reply = await handler(frame.params, frame.data)
        except _Refusal as refusal:
            reply = refusal.word.value
            self.last_error = reply
        return reply if self.powered else None

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
        raise _Refusal(ErrorWord.PARAMETERS)

    async def _card_present(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 1)
        if params[0] != "p":
            raise _Refusal(ErrorWord.PARAMETERS)
        word = self.status_words().blocking_word
        if word is not None:
            raise _Refusal(word)
        if self._cleaning_due:
            raise _Refusal(ErrorWord.NEED_CLEANING)
        return "CARD" if self.state.card_inside is not None else "OK"

    async def _job_status(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 1)
        return self.job_status(params[0])

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

    async def _ribbon_type(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 1)
        if not _RIBBON_TYPE_RE.fullmatch(params[0]):
            raise _Refusal(ErrorWord.PARAMETERS)
        self._cfg |= Cfg.RIBBON_SET
        return "OK"

    async def _feeder(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 1)
        if params[0] not in ("F", "M", "B"):
            raise _Refusal(ErrorWord.PARAMETERS)
        self._cfg = self._cfg | Cfg.FEEDER_AUTO if params[0] == "F" else self._cfg & ~Cfg.FEEDER_AUTO
        return "OK"

    async def _error_mode(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 1)
        if params[0] not in ("0", "1", "2"):
            raise _Refusal(ErrorWord.PARAMETERS)
        mode = Cfg.HOST_HANDLES_ERRORS
        self._cfg = self._cfg | mode if params[0] == "2" else self._cfg & ~mode
        return "OK"

    async def _start(self, params: tuple[str, ...], data: bytes) -> str:
        if Extension.JOB_ID.value in self.config.extensions:
            _expect(params, 0, 1)
        else:
            _expect(params, 0)  # a plain printer takes no job id
        job = params[0] if params and params[0] else None
        async with self._mechanism:
            self._abandon_sequence("CANCELLED")
            if job is not None:
                self.state.jobs.pop(job, None)  # a new attempt: the old outcome no longer answers for it
            word = self._blocking(feeding=True)
            if word is not None:
                if job is not None:
                    self.state.record_job(job, JobRecord("FAILED", reason=word.value))
                self._save()
                raise _Refusal(word)
            self._sequence = _Sequence(job)
            return "OK"

    async def _front(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 0)
        self._open_sequence().side = "front"
        return "OK"

    async def _back(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 0)
        self._open_sequence().side = "back"
        return "OK"

    async def _download(self, params: tuple[str, ...], data: bytes) -> str:
        sequence = self._open_sequence()
        _expect(params, 3)
        panel, levels, size = params
        try:
            expected = panel_size(int(levels))
        except ValueError:
            raise _Refusal(ErrorWord.PARAMETERS) from None
        if panel not in PANELS or size != str(expected) or len(data) != expected:
            raise _Refusal(ErrorWord.PARAMETERS)
        sequence.panels[sequence.side][panel] = hashlib.sha256(data).hexdigest()[:16]
        return "OK"

    async def _contactless(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 0)
        async with self._mechanism:
            sequence = self._open_sequence()
            card = sequence.card or self._feed(sequence)
            return self._ok_serial(card.serial)

    async def _print_eject(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 0)
        async with self._mechanism:
            sequence = self._open_sequence()
            try:
                if sequence.card is None:
                    self._feed(sequence)
                else:
                    self._refuse_if_blocked(feeding=False)
                return await self._print(sequence)
            finally:
                if self._sequence is sequence:
                    self._sequence = None

    async def _test_card(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 0)
        async with self._mechanism:
            if self._sequence is not None:
                raise _Refusal(ErrorWord.COMMAND)
            sequence = _Sequence(job=None, test=True)
            self._feed(sequence)
            return await self._print(sequence)

    async def _reject_command(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 0)
        async with self._mechanism:
            if self.state.jammed:
                raise _Refusal(ErrorWord.CARD_JAM)
            self._abandon_sequence("REJECTED")
            self._save()
            return "OK"

    async def _reset(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 0)
        async with self._mechanism:
            self._abandon_sequence("RESET")
            self.last_error = None
            self._save()
            return "OK"

    async def _clear_status(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 0)
        self.last_error = None
        return "OK"

    async def _clean(self, params: tuple[str, ...], data: bytes) -> str:
        _expect(params, 0)
        async with self._mechanism:
            if self.state.cover_open:
                raise _Refusal(ErrorWord.COVER_OPEN)
            if self.state.jammed:
                raise _Refusal(ErrorWord.CARD_JAM)
            if self.state.card_inside is not None or self._sequence is not None:
                raise _Refusal(ErrorWord.COMMAND)  # the cleaning card cannot pass a card inside
            interrupt = self._new_interrupt()
            try:
                if await self._wait_interrupt(interrupt, self.config.print_time):
                    if interrupt.result() == _POWER:
                        return ""
                    raise _Refusal(ErrorWord(interrupt.result()))
            finally:
                self._interrupt = None
            self.state.since_cleaning = 0
            self._save()
            return "OK"

    # -- mechanics -------------------------------------------------------------------------------------

    def _feed(self, sequence: _Sequence) -> CardInside:
        """Take the next blank from the hopper for ``sequence``; refuse if the printer is stopped."""
        number = self._cards_fed + 1
        for armed in self._disarm(number, _AT_FEED):
            self.state.forced.add(armed.fault.value)
        word = self._blocking(feeding=True)
        if word is not None:
            if sequence.job is not None:
                self.state.record_job(sequence.job, JobRecord("FAILED", reason=word.value))
            self._save()
            raise _Refusal(word)
        serial = self.state.take_blank()
        assert serial is not None  # _blocking saw blanks
        self._cards_fed = number
        card = CardInside(serial, sequence.job, sequence.test)
        sequence.card, sequence.number = card, number
        self.state.card_inside = card
        if sequence.job is not None:
            self.state.jobs.pop(sequence.job, None)
        self._save()
        return card

    async def _print(self, sequence: _Sequence) -> str:
        """Print and eject the sequence's card: ``OK;serial``, or refuse with what went wrong."""
        card = sequence.card
        assert card is not None
        outcome = await self._run_print(sequence)
        if outcome == _POWER:
            return ""  # nobody is listening any more
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
            self._save()
            return self._ok_serial(card.serial)
        word = ErrorWord(outcome)
        if card.job is not None:
            state.record_job(card.job, JobRecord("FAILED", serial=card.serial, reason=word.value))
        if word is not ErrorWord.CARD_JAM:
            self._reject(card, word.value)  # a jammed card stays inside until an operator clears it
        self._save()
        raise _Refusal(word)

    async def _run_print(self, sequence: _Sequence) -> str | None:
        """Wait one card's print time; return None, or what interrupted it (an error word, or _POWER)."""
        interrupt = self._new_interrupt()
        self._printing = sequence.card
        try:
            left = self.config.print_time
            strikes = self._disarm(sequence.number, _INTERRUPTING | {Fault.SLOW_REPLIES, Fault.SPLIT_REPLIES})
            if strikes:
                # Scripted faults strike halfway through the card.
                if await self._wait_interrupt(interrupt, left / 2):
                    return interrupt.result()
                for armed in strikes:
                    self._apply(armed.fault, armed.params)
                left -= left / 2
            if await self._wait_interrupt(interrupt, left):
                return interrupt.result()
            return None
        finally:
            self._interrupt = None
            self._printing = None

    def _new_interrupt(self) -> asyncio.Future[str]:
        self._interrupt = asyncio.get_running_loop().create_future()
        return self._interrupt

    @staticmethod
    async def _wait_interrupt(interrupt: asyncio.Future[str], seconds: float) -> bool:
        if not interrupt.done():
            await asyncio.wait({interrupt}, timeout=seconds)
        return interrupt.done()

    def _strike(self, word: str) -> None:
        """Interrupt the card being printed, if any."""
        if self._interrupt is not None and not self._interrupt.done():
            self._interrupt.set_result(word)

    def _reject(self, card: CardInside, reason: str) -> None:
        """The card leaves the printer into the reject box."""
        self.state.card_inside = None
        self.state.rejected_count += 1
        self._log(card, "rejected", reason)

    def _abandon_sequence(self, reason: str) -> None:
        """End the open sequence: its job fails, a card fed for it goes to the reject box."""
        sequence, self._sequence = self._sequence, None
        if sequence is None:
            return
        if sequence.job is not None:
            serial = None if sequence.card is None else sequence.card.serial
            self.state.record_job(sequence.job, JobRecord("FAILED", serial=serial, reason=reason))
        if sequence.card is not None and self.state.card_inside is sequence.card and not self.state.jammed:
            self._reject(sequence.card, reason)

    def _open_sequence(self) -> _Sequence:
        if self._sequence is None:
            raise _Refusal(ErrorWord.COMMAND)  # Sr, Dbc, Sic, Se need an Ss first
        return self._sequence

    def _ok_serial(self, serial: str) -> str:
        return f"OK;{serial}" if Extension.CARD_SERIAL.value in self.config.extensions else "OK"

    # -- conditions -----------------------------------------------------------------------------------------

    @property
    def _ribbon_out(self) -> bool:
        return Fault.RIBBON_OUT.value in self.state.forced or self.state.ribbon_left <= 0

    @property
    def _output_full(self) -> bool:
        forced = Fault.OUTPUT_FULL.value in self.state.forced
        return forced or self.state.output_count >= self.config.output_capacity

    @property
    def _feeder_empty(self) -> bool:
        return Fault.FEEDER_EMPTY.value in self.state.forced or self.state.blanks_left == 0

    @property
    def _cleaning_due(self) -> bool:
        return self.state.since_cleaning >= self.config.clean_after

    def _blocking(self, *, feeding: bool) -> ErrorWord | None:
        """The error word a card command gets now, by priority; None when the printer can go on."""
        state = self.state
        if state.cover_open:
            return ErrorWord.COVER_OPEN
        if state.jammed:
            return ErrorWord.CARD_JAM
        if self._ribbon_out:
            return ErrorWord.RIBBON
        if self._output_full:
            return ErrorWord.HOPPER_FULL
        if feeding and state.card_inside is None and self._feeder_empty:
            return ErrorWord.FEEDER_EMPTY
        return None

    def _refuse_if_blocked(self, *, feeding: bool) -> None:
        word = self._blocking(feeding=feeding)
        if word is not None:
            raise _Refusal(word)

    def status_words(self) -> StatusWords:
        """The ``Rst`` answer for the printer as it is now."""
        state, config = self.state, self.config
        err = Err(0)
        for condition, bit in (
            (self._feeder_empty, Err.FEEDER_EMPTY),
            (self._ribbon_out, Err.RIBBON_OUT),
            (state.jammed, Err.CARD_JAM),
            (state.cover_open, Err.COVER_OPEN),
            (self._output_full, Err.HOPPER_FULL),
        ):
            if condition:
                err |= bit
        war = War(0)
        for condition, warning in (
            (not self._ribbon_out and state.ribbon_left <= config.ribbon_low_at, War.RIBBON_LOW),
            (self._cleaning_due, War.NEED_CLEANING),
            (not self._feeder_empty and state.blanks_left <= config.feeder_low, War.FEEDER_LOW),
            (
                not self._output_full and state.output_count >= 0.9 * config.output_capacity,
                War.HOPPER_ALMOST_FULL,
            ),
        ):
            if condition:
                war |= warning
        inf = Inf(0)
        if self._printing is not None:
            inf |= Inf.PRINTING
        if state.card_inside is not None:
            inf |= Inf.CARD_INSIDE
        if self._sequence is not None:
            inf |= Inf.SEQUENCE_OPEN
        return StatusWords(self._cfg, inf, war, err)

    # -- faults and operator actions ------------------------------------------------------------------------

    def inject(self, fault: Fault, *, at_card: int | None = None, **params: Any) -> None:
        """Make ``fault`` happen now, or during the ``at_card``-th card from now."""
        _check_params(fault, params)
        if at_card is not None:
            if at_card < 1:
                raise ValueError("at_card counts cards from now: 1 is the next card")
            self._armed.append(_Armed(fault, self._cards_fed + at_card, params))
            return
        self._apply(fault, params)

    def clear(self, fault: Fault) -> None:
        """Take ``fault`` away (and any of its kind still waiting for a card)."""
        self._armed = [armed for armed in self._armed if armed.fault is not fault]
        state = self.state
        if fault is Fault.CARD_JAM:
            self._clear_jam()
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
            self.power_on()
        self._save()

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
            self._strike(ErrorWord.COVER_OPEN.value)
        elif action is Action.CLOSE_COVER:
            state.cover_open = False
        elif action is Action.CLEAR_JAM:
            self._clear_jam()
        elif action is Action.EMPTY_OUTPUT:
            state.output_count = 0
            state.forced.discard(Fault.OUTPUT_FULL.value)
        elif action is Action.POWER_ON:
            self.power_on()
        elif action is Action.POWER_OFF:
            self.power_off()
        self._save()

    def _apply(self, fault: Fault, params: dict[str, Any]) -> None:
        state = self.state
        if fault is Fault.CARD_JAM:
            state.jammed = True
            self._strike(ErrorWord.CARD_JAM.value)
        elif fault is Fault.RIBBON_OUT:
            state.forced.add(fault.value)
            self._strike(ErrorWord.RIBBON.value)
        elif fault is Fault.COVER_OPEN:
            state.cover_open = True
            self._strike(ErrorWord.COVER_OPEN.value)
        elif fault in (Fault.FEEDER_EMPTY, Fault.OUTPUT_FULL):
            state.forced.add(fault.value)
        elif fault is Fault.LINK_DROP:
            self.on_link_drop()
        elif fault is Fault.SLOW_REPLIES:
            self.reply_delay = _seconds(params.get("delay", 0.5), "delay")
            self._replies_released = asyncio.Event()
        elif fault is Fault.SPLIT_REPLIES:
            self.split = (
                _integer(params.get("size", 3), "size", minimum=1),
                _seconds(params.get("pause", 0.02)),
            )
        elif fault is Fault.POWER_LOSS:
            self.power_off()
        self._save()

    def _clear_jam(self) -> None:
        if not self.state.jammed:
            return
        self.state.jammed = False
        card = self.state.card_inside
        if card is not None:
            self._reject(card, ErrorWord.CARD_JAM.value)  # the operator pulls it out: a spoiled blank
        if self._sequence is not None and self._sequence.card is card:
            self._sequence = None

    def _disarm(self, card: int, faults: set[Fault]) -> list[_Armed]:
        due = [armed for armed in self._armed if armed.card == card and armed.fault in faults]
        self._armed = [armed for armed in self._armed if armed not in due]
        return due

    # -- records --------------------------------------------------------------------------------------------

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

    def _save(self) -> None:
        self._store.save(self.state)

    def card_log(self) -> list[dict[str, Any]]:
        return self._store.records()

    def snapshot(self) -> dict[str, Any]:
        """Everything an operator or a test may want to see, as JSON-ready data (``GET /state``)."""
        words = self.status_words()
        state, config = self.state, self.config
        inside = state.card_inside
        return {
            "name": config.name,
            "powered": self.powered,
            "state": words.state.value if self.powered else PrinterState.STOPPED.value,
            "reasons": [reason.value for reason in words.reasons] if self.powered else ["offline"],
            "blanks_left": state.blanks_left,
            "next_serial": state.next_blank(),
            "hopper": [str(stack) for stack in state.hopper if stack],
            "ribbon_left": state.ribbon_left,
            "ribbon_capacity": state.ribbon_capacity,
            "cards_printed": state.cards_printed,
            "since_cleaning": state.since_cleaning,
            "output_count": state.output_count,
            "output_capacity": config.output_capacity,
            "rejected_count": state.rejected_count,
            "jammed": state.jammed,
            "cover_open": state.cover_open,
            "forced": sorted(state.forced),
            "card_inside": None if inside is None else {"serial": inside.serial, "job": inside.job},
            "printing": self._printing is not None,
            "sequence_open": self._sequence is not None,
            "cards_fed": self._cards_fed,
            "armed": [{"fault": a.fault.value, "card": a.card - self._cards_fed} for a in self._armed],
            "reply_delay": self.reply_delay,
            "split_replies": None if self.split is None else {"size": self.split[0], "pause": self.split[1]},
            "print_time": config.print_time,
            "extensions": sorted(config.extensions),
            "last_error": self.last_error,
            "commands_received": self.commands_received,
            "cards_logged": self._store.records_written,
        }


def _expect(params: tuple[str, ...], *counts: int) -> None:
    if len(params) not in counts:
        raise _Refusal(ErrorWord.PARAMETERS)


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
