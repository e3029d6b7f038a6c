"""Time-outs by kind of command: a card gets its print time, a download its own, anything else the short one.

The time-outs here are small so that the failure paths stay quick; each test keeps the kinds far enough
apart that a time-out of the wrong kind could not pass for the right one on a loaded machine.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import pytest

from drivers import (
    CardPrinter,
    Frame,
    JobOutcome,
    JobStatus,
    NoAnswer,
    OutcomeUnknown,
    PrinterState,
    Reason,
    SerialTransport,
    Timeouts,
)
from drivers.emulator import Emulator, Fault
from drivers.protocol import TimeoutKind
from tests.support import wait_for

Panel = Callable[..., bytes]
StartEmulator = Callable[..., AbstractAsyncContextManager[Emulator]]
OpenPrinter = Callable[..., CardPrinter]


def url_for(emulator: Emulator, link: str) -> str:
    url = emulator.url if link == "socket" else emulator.pty_path
    assert url is not None
    return url


# Short 0.3 s (an idle emulator answers in a millisecond); a card gets its print time (from Rcap) + 3 s; a
# download 5 s.
SMALL = Timeouts(short=0.3, download=5.0, margin=3.0)
# 3600 cards an hour, 1.25 times as fast: 0.8 s a card, well over the short time-out.
SLOW_CARD: dict[str, Any] = {"speed": 3600, "time_scale": 1.25}


async def test_a_card_that_prints_longer_than_the_short_time_out_still_comes_out(
    start_emulator: StartEmulator, open_printer: OpenPrinter, link: str, panel: Panel
) -> None:
    async with (
        start_emulator(**SLOW_CARD) as emulator,
        open_printer(emulator, link, timeouts=SMALL) as printer,
    ):
        assert printer.identity.print_time == pytest.approx(0.8)
        timeouts = printer.transport.timeouts
        assert timeouts.for_kind(TimeoutKind.SHORT) == pytest.approx(0.3)
        assert timeouts.for_kind(TimeoutKind.CARD) == pytest.approx(0.8 + 3.0)  # Rcap's ptime + margin
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await printer.print_card("job-slow", {"k": panel()}) == "KTP00000001"
        took = loop.time() - started
        assert took >= 0.75  # Se waited the whole print time, more than twice the short time-out
        assert printer.transport.reconnects == 0  # nothing timed out and was recovered behind our back
        assert [(r["job"], r["serial"], r["outcome"]) for r in emulator.card_log()] == [
            ("job-slow", "KTP00000001", "printed")
        ]
        assert (await printer.status()).state is PrinterState.IDLE


async def test_a_short_command_to_a_printer_that_does_not_answer_gives_up_after_the_short_time_out(
    emulator: Emulator, open_printer: OpenPrinter, link: str
) -> None:
    async with open_printer(emulator, link, timeouts=SMALL) as printer:
        await emulator.inject(Fault.SLOW_REPLIES, delay=5.0)
        loop = asyncio.get_running_loop()
        started = loop.time()
        status = await printer.status()
        waited = loop.time() - started
        assert (status.state, status.reasons, status.accepts_work) == (PrinterState.STOPPED, (Reason.OFFLINE,), False)
        # The short time-out (0.3 s), not the card's (3 s), the download's (5 s) or the printer's delay (5 s).
        assert 0.3 <= waited < 2.0
        started = loop.time()
        with pytest.raises(NoAnswer, match=r"within 0\.3 s"):
            await printer.identify()
        assert loop.time() - started < 2.0
        await emulator.clear(Fault.SLOW_REPLIES)
        assert (await printer.status()).state is PrinterState.IDLE


async def test_one_slow_printer_times_out_a_short_command_but_not_a_card_command_or_a_download(
    emulator: Emulator, link: str, panel: Panel
) -> None:
    timeouts = Timeouts(short=0.1, download=3.0, card=3.0, margin=0.0)
    async with SerialTransport(url_for(emulator, link), timeouts=timeouts) as transport:
        await emulator.inject(Fault.SLOW_REPLIES, delay=0.3)
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert (await transport.request(Frame("Ss", ("job-1",)))).text == "OK"  # a card command
        assert (await transport.request(Frame.download("k", panel()))).text == "OK"
        assert loop.time() - started >= 0.55  # both waited for their slow answers
        with pytest.raises(NoAnswer, match=r"Rfv: no answer within 0\.1 s"):
            await transport.request(Frame("Rfv"))


async def test_a_card_slower_than_its_card_time_out_is_never_reported_as_not_printed(
    start_emulator: StartEmulator, open_printer: OpenPrinter, link: str, panel: Panel
) -> None:
    # The card time-out is fixed (it wins over Rcap) at 0.2 s, below the 0.8 s the card takes: Se times out
    # while the card prints. Whatever happens next, the card came out, so print_card must return its serial
    # or say the outcome is unknown; never an error that means "no card was printed" (or a protocol error:
    # on a serial line the late answer to Se arrives while the driver asks Rjs about the job).
    timeouts = Timeouts(short=2.0, download=5.0, card=0.1, margin=0.1)
    async with (
        start_emulator(**SLOW_CARD) as emulator,
        open_printer(emulator, link, timeouts=timeouts) as printer,
    ):
        assert printer.transport.timeouts.for_kind(TimeoutKind.CARD) == pytest.approx(0.2)
        answer: str | OutcomeUnknown | None
        try:
            answer = await printer.print_card("job-late", {"k": panel()})
        except OutcomeUnknown as exc:
            answer = exc
        assert answer == "KTP00000001" or (isinstance(answer, OutcomeUnknown) and answer.job_id == "job-late")

        async def card_came_out() -> bool:
            return len(emulator.card_log()) == 1

        await wait_for(card_came_out, timeout=5, what="the card to come out")
        assert [(r["job"], r["outcome"]) for r in emulator.card_log()] == [("job-late", "printed")]

        async def job_done() -> bool:
            return await printer.job_outcome("job-late") == JobOutcome(JobStatus.DONE, "KTP00000001")

        await wait_for(job_done, timeout=5, what="the printer to report the job done")
