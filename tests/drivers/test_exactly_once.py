"""Exactly-once printing: whatever the link does, one job makes one card, and the card log proves it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from drivers import CardPrinter, JobStatus
from drivers.emulator import Emulator
from tests.support import wait_for

Panel = Callable[..., bytes]
StartEmulator = Callable[..., AbstractAsyncContextManager[Emulator]]
OpenPrinter = Callable[..., CardPrinter]


def printed(emulator: Emulator) -> list[tuple[str | None, str]]:
    return [(r["job"], r["serial"]) for r in emulator.card_log() if r["outcome"] == "printed"]


async def test_n_jobs_through_link_drops_make_n_cards_with_unique_serials_and_no_job_twice(
    start_emulator: StartEmulator, open_printer: OpenPrinter, link: str, panel: Panel
) -> None:
    jobs = [f"job-{n:02d}" for n in range(12)]
    drops = tuple(f"link_drop@{n}" for n in (2, 5, 6, 11))
    async with (
        start_emulator(speed=3600, time_scale=50, faults=drops) as emulator,
        open_printer(emulator, link) as printer,
    ):
        for job in jobs:
            await printer.print_card(job, {"k": panel()})
        log = emulator.card_log()
    assert [record["job"] for record in log] == jobs  # N jobs, N lines, no job twice
    assert {record["outcome"] for record in log} == {"printed"}
    assert len({record["serial"] for record in log}) == len(jobs)
    assert printer.transport.reconnects >= len(drops)


async def test_a_job_sent_again_while_its_card_is_printing_waits_for_that_card_instead_of_printing_another(
    start_emulator: StartEmulator, open_printer: OpenPrinter, link: str, panel: Panel
) -> None:
    async with start_emulator(speed=3600, time_scale=10) as emulator, open_printer(emulator, link) as printer:
        first = asyncio.create_task(printer.print_card("job-impatient", {"k": panel()}))

        async def card_is_printing() -> bool:
            return bool(emulator.snapshot()["printing"])

        await wait_for(card_is_printing, what="the card to start printing")
        first.cancel()  # e.g. a gateway restarting mid-card
        with contextlib.suppress(asyncio.CancelledError):
            await first
        assert await printer.print_card("job-impatient", {"k": panel()}) == "KTP00000001"
        assert printed(emulator) == [("job-impatient", "KTP00000001")]


async def test_a_job_abandoned_after_its_card_was_fed_rejects_that_blank_and_prints_on_a_new_one(
    printer: CardPrinter, emulator: Emulator, panel: Panel
) -> None:
    async def chip_write_interrupted(serial_number: str | None) -> None:
        raise asyncio.CancelledError  # the task running print_card was cancelled at the chip station

    with contextlib.suppress(asyncio.CancelledError):
        await printer.print_card("job-fed", {"k": panel()}, contactless=chip_write_interrupted)
    assert (await printer.job_outcome("job-fed")).status is JobStatus.PRINTING  # the blank waits inside
    assert await printer.print_card("job-fed", {"k": panel()}) == "KTP00000002"
    assert [(r["serial"], r["outcome"]) for r in emulator.card_log()] == [
        ("KTP00000001", "rejected"),
        ("KTP00000002", "printed"),
    ]
