"""The card-printer driver the gateway uses: identify, status, print a card, ask a job's outcome.

    async with CardPrinter.open("socket://127.0.0.1:9101") as printer:
        serial = await printer.print_card("job-42", {"k": black, "o": overlay})

Entering opens the link and asks the printer who it is (``Rtp``, ``Rfv``, ``Rsn``, ``Rcap``); an extension is
used only when ``Rcap`` lists it, so a plain Evolis-style printer (no ``Rcap``) is still driven: status then
comes from ``Rlr;p``, supplies are unknown, ``job_outcome`` answers UNKNOWN and ``print_card`` returns None
for the serial.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from types import TracebackType
from typing import Self, TypeVar

from drivers.errors import (
    CommandRejected,
    LinkError,
    NoAnswer,
    OutcomeUnknown,
    PrinterError,
    ProtocolError,
    error_for_word,
)
from drivers.protocol import PANELS, Command, Extension, Frame, Inf, Reply, StatusWords, TimeoutKind
from drivers.states import PrinterState, Reason, parse_error_word
from drivers.transport import DEFAULT_IDLE_GAP, Reconnect, SerialTransport, Timeouts

__all__ = [
    "CardPrinter",
    "ContactlessStep",
    "Identity",
    "JobOutcome",
    "JobStatus",
    "PrinterStatus",
    "Supplies",
]

# What to do while the card sits at the contactless station (e.g. write the chip); gets the card serial.
ContactlessStep = Callable[[str | None], Awaitable[None]]

N = TypeVar("N", int, float)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who the printer is and which protocol extensions it has."""

    model: str
    firmware: str
    serial: str
    extensions: frozenset[str] = frozenset()
    print_time: float | None = None  # seconds a card, when the printer tells (Rcap ptime=)

    def supports(self, extension: Extension) -> bool:
        return extension.value in self.extensions


@dataclass(frozen=True, slots=True)
class Supplies:
    """What is left; None where the printer cannot tell (no ``Rco`` extension)."""

    ribbon_left: int | None = None
    cards_printed: int | None = None


@dataclass(frozen=True, slots=True)
class PrinterStatus:
    """IPP-style printer state, its reasons (empty: none), and supplies."""

    state: PrinterState
    reasons: tuple[Reason, ...] = ()
    supplies: Supplies = Supplies()
    card_inside: bool | None = None

    @classmethod
    def offline(cls) -> PrinterStatus:
        return cls(PrinterState.STOPPED, (Reason.OFFLINE,))

    @property
    def accepts_work(self) -> bool:
        """True when a card may be sent: not stopped and no reason that stops the printer."""
        return self.state is not PrinterState.STOPPED and not any(r.stops_printer for r in self.reasons)


class JobStatus(StrEnum):
    """What became of a job, in the printer's words (``Rjs``)."""

    DONE = "DONE"  # the card is in the output hopper
    PRINTING = "PRINTING"  # a card for this job is inside the printer
    FAILED = "FAILED"  # the card or its sequence failed; ``reason`` says why
    UNKNOWN = "UNKNOWN"  # the printer cannot tell (never saw a card for it, lost power, or has no Rjs)


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """A job's outcome: DONE(serial) / PRINTING / FAILED(reason) / UNKNOWN."""

    status: JobStatus
    serial: str | None = None  # DONE: the card printed; FAILED: the blank used, if one was fed
    reason: str | None = None  # an Evolis error word, or REJECTED / CANCELLED

    @classmethod
    def parse(cls, reply: Reply) -> JobOutcome:
        fields = reply.fields
        try:
            status = JobStatus(fields[0])
        except ValueError:
            raise ProtocolError(f"not a job status: {reply.text!r}") from None
        detail = fields[1] if len(fields) > 1 and fields[1] else None
        if status is JobStatus.DONE:
            return cls(status, serial=detail)
        if status is JobStatus.FAILED:
            # ``FAILED;<reason>;<serial>``: the blank fed for the job was used (spoiled) — serial given.
            used = fields[2] if len(fields) > 2 and fields[2] else None
            return cls(status, serial=used, reason=detail)
        return cls(status)

    @property
    def ipp_reason(self) -> Reason | None:
        """The IPP reason a FAILED job's error word stands for, if it is one."""
        word = parse_error_word(self.reason) if self.reason else None
        return None if word is None else error_for_word(word).reason


class CardPrinter:
    """One card printer: use ``async with CardPrinter.open(url) as printer``."""

    def __init__(
        self,
        transport: SerialTransport,
        *,
        ribbon: str = "ymcko",
        feeder: str = "F",
        poll_interval: float = 0.1,
    ) -> None:
        self._transport = transport
        self._ribbon = ribbon
        self._feeder = feeder
        self._poll_interval = poll_interval
        self._identity: Identity | None = None
        self._card_time_fixed = transport.timeouts.card is not None
        self._sequence = asyncio.Lock()

    @classmethod
    def open(
        cls,
        url: str,
        *,
        baudrate: int = 115200,
        timeouts: Timeouts | None = None,
        reconnect: Reconnect | None = None,
        idle_gap: float | None = DEFAULT_IDLE_GAP,
        ribbon: str = "ymcko",
        feeder: str = "F",
        poll_interval: float = 0.1,
    ) -> CardPrinter:
        """A printer on any pyserial URL (``/dev/ttyUSB0``, ``socket://host:port``, ``rfc2217://…``, a pty).

        Nothing happens until ``async with``: entering opens the link (``LinkDown`` if it cannot), identifies
        the printer and sets ribbon type, feeder and host error handling (``Pr``, ``Pmi``, ``Pem;2``).
        """
        transport = SerialTransport(url, baudrate=baudrate, timeouts=timeouts, reconnect=reconnect, idle_gap=idle_gap)
        return cls(transport, ribbon=ribbon, feeder=feeder, poll_interval=poll_interval)

    async def __aenter__(self) -> Self:
        await self._transport.open()
        try:
            await self.identify()
            await self._call(Command.ERROR_MODE, "2")
            await self._call(Command.FEEDER, self._feeder)
            await self._call(Command.RIBBON_TYPE, self._ribbon)
        except BaseException:
            await self._transport.close()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._transport.close()

    @property
    def url(self) -> str:
        return self._transport.url

    @property
    def transport(self) -> SerialTransport:
        return self._transport

    @property
    def identity(self) -> Identity:
        """What ``identify()`` found when the printer was opened."""
        if self._identity is None:
            raise RuntimeError("the printer is not open: use `async with CardPrinter.open(url)`")
        return self._identity

    def supports(self, extension: Extension) -> bool:
        return self._identity is not None and self._identity.supports(extension)

    async def identify(self) -> Identity:
        """Ask model, firmware, serial number and capabilities; a printer without ``Rcap`` has none."""
        model = (await self._call(Command.MODEL)).text
        firmware = (await self._call(Command.FIRMWARE)).text
        serial = (await self._call(Command.SERIAL_NUMBER)).text
        extensions: frozenset[str] = frozenset()
        print_time: float | None = None
        try:
            capabilities = await self._call(Command.CAPABILITIES)
        except (CommandRejected, NoAnswer):
            pass  # a plain Evolis-style printer: it refuses Rcap, or (having just answered) ignores it
        else:
            if not capabilities.ok:
                raise ProtocolError(f"not a capabilities answer: {capabilities.text!r}")
            for item in capabilities.fields[1:]:
                key, _, value = item.partition("=")
                if key == "ext":
                    extensions = frozenset(name for name in value.split(",") if name)
                elif key == "ptime":
                    print_time = _number(value, float, capabilities)
        self._identity = Identity(model, firmware, serial, extensions, print_time)
        if print_time is not None and not self._card_time_fixed:
            self._transport.timeouts = replace(self._transport.timeouts, card=print_time)
        return self._identity

    async def status(self) -> PrinterStatus:
        """State, reasons and supplies; a printer that does not answer is ``stopped`` / ``offline``."""
        try:
            if self.supports(Extension.STATUS):
                words = StatusWords.parse((await self._call(Command.STATUS)).text)
                state, reasons = words.state, words.reasons
                card_inside: bool | None = bool(words.inf & Inf.CARD_INSIDE)
            else:
                state, reasons, card_inside = await self._plain_status()
            supplies = Supplies()
            if self.supports(Extension.COUNTERS):
                supplies = Supplies(
                    ribbon_left=_number((await self._call(Command.COUNTER, "r")).fields[-1], int),
                    cards_printed=_number((await self._call(Command.COUNTER, "c")).fields[-1], int),
                )
        except LinkError:
            return PrinterStatus.offline()
        return PrinterStatus(state, reasons, supplies, card_inside)

    async def _plain_status(self) -> tuple[PrinterState, tuple[Reason, ...], bool | None]:
        # Without Rst, "is a card inside?" is the one plain question a stopped printer answers with its error.
        try:
            reply = await self._call(Command.CARD_PRESENT, "p")
        except PrinterError as exc:
            reasons = (exc.reason,) if exc.reason else ()
            stopped = any(reason.stops_printer for reason in reasons)
            return (PrinterState.STOPPED if stopped else PrinterState.IDLE), reasons, None
        inside = reply.fields[0] == "CARD"
        return (PrinterState.PROCESSING if inside else PrinterState.IDLE), (), inside

    async def print_card(
        self,
        job_id: str,
        panels: Mapping[str, bytes],
        *,
        back: Mapping[str, bytes] | None = None,
        contactless: ContactlessStep | None = None,
    ) -> str | None:
        """Print one card for ``job_id``; return the serial the printer reports (None if it cannot tell).

        ``panels`` maps panel names (y, m, c, k, o) to 1016×648 panel data; the grey levels follow from the
        size (1 to 8 bits a pixel). Returns, or raises a ``PrinterError`` / ``LinkError`` (not printed), or
        raises ``OutcomeUnknown`` (send the job to review). With ``Rjs``, a job the printer already printed is
        not printed again: its serial is returned.
        """
        front = _downloads(panels, "panels")
        downloads_back = _downloads(back, "back") if back else []
        async with self._sequence:
            if self.supports(Extension.JOB_STATUS):
                earlier = await self._earlier_attempt(job_id)
                if earlier.status is JobStatus.DONE:
                    return earlier.serial
            if self.supports(Extension.JOB_ID):
                await self._call(Command.START, job_id)
            else:
                await self._call(Command.START)
            await self._call(Command.FRONT)
            for frame in front:
                await self._send(frame)
            if downloads_back:
                await self._call(Command.BACK)
                for frame in downloads_back:
                    await self._send(frame)
            if contactless is not None:
                await contactless(self._card_serial(await self._call(Command.CONTACTLESS)))
            try:
                reply = await self._call(Command.PRINT_EJECT)
            except LinkError as exc:
                # Se went out (or may have): the card may be printing. Never send it again; ask the printer.
                return await self._recover(job_id, exc)
            return self._card_serial(reply)

    async def _earlier_attempt(self, job_id: str) -> JobOutcome:
        """What an earlier attempt at ``job_id`` left behind; a card still inside is seen to first."""
        earlier = await self.job_outcome(job_id)
        if earlier.status is not JobStatus.PRINTING:
            return earlier
        if self.supports(Extension.STATUS):
            words = StatusWords.parse((await self._call(Command.STATUS)).text)
            if not words.inf & Inf.PRINTING:
                # The card was fed (e.g. for its chip) but never sent to print: the attempt was abandoned
                # before Se. That blank goes to the reject box and the job starts over.
                await self._call(Command.REJECT)
                return await self.job_outcome(job_id)
        earlier = await self._settle(job_id)
        if earlier.status not in (JobStatus.DONE, JobStatus.FAILED):
            raise OutcomeUnknown(job_id, f"an earlier attempt ended {earlier.status}")
        return earlier

    async def job_outcome(self, job_id: str) -> JobOutcome:
        """What became of ``job_id`` (``Rjs``); UNKNOWN from a printer without that extension."""
        if not self.supports(Extension.JOB_STATUS):
            return JobOutcome(JobStatus.UNKNOWN)
        return JobOutcome.parse(await self._call(Command.JOB_STATUS, job_id))

    async def cancel(self, job_id: str) -> JobOutcome:
        """Abandon ``job_id`` if it is not printed yet: a card inside goes to the reject box.

        Cancel the task running ``print_card`` first. Returns the job's outcome afterwards: DONE means the
        card had already come out.
        """
        async with self._sequence:
            outcome = await self.job_outcome(job_id)
            if outcome.status in (JobStatus.DONE, JobStatus.FAILED):
                return outcome
            await self._call(Command.REJECT)
            return await self.job_outcome(job_id)

    async def reject(self) -> None:
        """Eject the card inside, if any, to the reject box (``Ser``)."""
        await self._call(Command.REJECT)

    async def self_test(self) -> str | None:
        """Print a test card on a blank (``St``); return its serial when the printer tells."""
        return self._card_serial(await self._call(Command.TEST_CARD))

    async def clean(self) -> None:
        """Run a cleaning cycle (``Scp``): clears the other-warning a printer gives when cleaning is due."""
        await self._call(Command.CLEAN)

    async def reset(self) -> None:
        """Reset the printer (``Srs``): the open sequence ends and a loose card goes to the reject box."""
        await self._call(Command.RESET)

    async def clear_status(self) -> None:
        """Clear the printer's error status (``Scs``) after an operator fixed the cause."""
        await self._call(Command.CLEAR_STATUS)

    async def _call(self, command: Command, *params: str) -> Reply:
        return await self._send(Frame(command, params))

    async def _send(self, frame: Frame) -> Reply:
        return (await self._transport.request(frame)).raise_for_error()

    def _card_serial(self, reply: Reply) -> str | None:
        if not self.supports(Extension.CARD_SERIAL):
            return None
        return reply.value(1)

    async def _recover(self, job_id: str, cause: LinkError) -> str | None:
        if not self.supports(Extension.JOB_STATUS):
            raise OutcomeUnknown(job_id, f"{cause}; the printer has no Rjs to ask") from cause
        outcome = await self._settle(job_id)
        if outcome.status is JobStatus.DONE:
            return outcome.serial
        if outcome.status is JobStatus.FAILED:
            word = parse_error_word(outcome.reason or "")
            raise (error_for_word(word) if word else CommandRejected(f"job {job_id}: {outcome.reason}")) from cause
        raise OutcomeUnknown(job_id, f"{cause}; the printer says {outcome.status}") from cause

    async def _settle(self, job_id: str) -> JobOutcome:
        """Ask ``Rjs`` until the job is no longer PRINTING, for at most one card's time-out."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._transport.timeouts.for_kind(TimeoutKind.CARD)
        while True:
            try:
                outcome: JobOutcome | None = await self.job_outcome(job_id)
            except LinkError:
                outcome = None  # the link is still down: keep asking until the deadline
            except ProtocolError:
                # Not an answer to Rjs: on a serial line, the late answer to the command that timed out (Se).
                outcome = None
            if outcome is not None and outcome.status is not JobStatus.PRINTING:
                return outcome
            if loop.time() >= deadline:
                return outcome or JobOutcome(JobStatus.UNKNOWN)
            # The protocol has no notifications: asking again is the only way to learn.
            await asyncio.sleep(self._poll_interval)


def _downloads(panels: Mapping[str, bytes], what: str) -> list[Frame]:
    unknown = set(panels) - set(PANELS)
    if unknown:
        raise ValueError(f"{what}: unknown panel(s) {sorted(unknown)}; panels are {', '.join(PANELS)}")
    if not panels:
        raise ValueError(f"{what}: a side needs at least one panel")
    return [Frame.download(name, panels[name]) for name in PANELS if name in panels]


def _number(text: str, kind: type[N], reply: Reply | None = None) -> N:
    try:
        return kind(text)
    except ValueError:
        raise ProtocolError(f"not a number: {text!r}" + (f" in {reply.text!r}" if reply else "")) from None
