"""Faults as an operator meets them: what the driver reports (IPP reasons, errors) and what it survives."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from typing import Any

import pytest

from drivers import (
    CardJam,
    CardPrinter,
    CoverOpen,
    FeederEmpty,
    HopperFull,
    JobStatus,
    OutcomeUnknown,
    PrinterError,
    PrinterState,
    Reason,
    RibbonError,
)
from drivers.emulator import Action, Emulator, Fault
from tests.support import wait_for

Panel = Callable[..., bytes]
StartEmulator = Callable[..., AbstractAsyncContextManager[Emulator]]
OpenPrinter = Callable[..., CardPrinter]

# A card takes 0.2 s: long enough for a fault to strike in the middle of it.
SLOW_CARDS: dict[str, Any] = {"speed": 3600, "time_scale": 5}


@pytest.mark.parametrize(
    ("fault", "error", "reason"),
    [
        (Fault.CARD_JAM, CardJam, Reason.MEDIA_JAM_ERROR),
        (Fault.RIBBON_OUT, RibbonError, Reason.MARKER_SUPPLY_EMPTY_ERROR),
        (Fault.FEEDER_EMPTY, FeederEmpty, Reason.MEDIA_EMPTY_ERROR),
        (Fault.COVER_OPEN, CoverOpen, Reason.COVER_OPEN_ERROR),
        (Fault.OUTPUT_FULL, HopperFull, Reason.OUTPUT_AREA_FULL_ERROR),
    ],
)
async def test_each_fault_stops_the_printer_with_its_ipp_reason_and_refuses_cards_until_cleared(
    printer: CardPrinter,
    emulator: Emulator,
    panel: Panel,
    fault: Fault,
    error: type[PrinterError],
    reason: Reason,
) -> None:
    await emulator.inject(fault)
    status = await printer.status()
    assert (status.state, status.reasons, status.accepts_work) == (PrinterState.STOPPED, (reason,), False)
    with pytest.raises(error) as raised:
        await printer.print_card("job-refused", {"k": panel()})
    assert raised.value.reason is reason
    outcome = await printer.job_outcome("job-refused")
    assert (outcome.status, outcome.ipp_reason) == (JobStatus.FAILED, reason)
    assert emulator.card_log() == []  # no blank was used
    await emulator.clear(fault)
    assert await printer.print_card("job-after", {"k": panel()}) == "KTP00000001"


async def test_card_jam_mid_card_fails_the_job_and_keeps_the_card_until_an_operator_clears_it(
    start_emulator: StartEmulator, open_printer: OpenPrinter, link: str, panel: Panel
) -> None:
    async with (
        start_emulator(**SLOW_CARDS, faults=("card_jam@2",)) as emulator,
        open_printer(emulator, link) as printer,
    ):
        assert await printer.print_card("job-1", {"k": panel()}) == "KTP00000001"
        with pytest.raises(CardJam):
            await printer.print_card("job-2", {"k": panel()})
        status = await printer.status()
        assert (status.state, status.reasons, status.card_inside) == (
            PrinterState.STOPPED,
            (Reason.MEDIA_JAM_ERROR,),
            True,
        )
        assert (await printer.job_outcome("job-2")).reason == "CARD JAM"
        await emulator.act(Action.CLEAR_JAM)
        pulled = emulator.card_log()[-1]
        assert (pulled["job"], pulled["serial"], pulled["outcome"], pulled["reason"]) == (
            "job-2",
            "KTP00000002",
            "rejected",
            "CARD JAM",
        )
        assert await printer.print_card("job-3", {"k": panel()}) == "KTP00000003"


async def test_opening_the_cover_mid_card_sends_the_card_to_the_reject_box(
    start_emulator: StartEmulator, open_printer: OpenPrinter, panel: Panel
) -> None:
    async with (
        start_emulator(**SLOW_CARDS, faults=("cover_open@1",)) as emulator,
        open_printer(emulator) as printer,
    ):
        with pytest.raises(CoverOpen):
            await printer.print_card("job-cover", {"k": panel()})
        assert [(r["outcome"], r["reason"]) for r in emulator.card_log()] == [("rejected", "COVER OPEN")]
        await emulator.act(Action.CLOSE_COVER)
        assert (await printer.status()).state is PrinterState.IDLE


async def test_the_ribbon_warns_when_low_and_stops_the_printer_when_used_up(
    start_emulator: StartEmulator, open_printer: OpenPrinter, link: str, panel: Panel
) -> None:
    async with start_emulator(ribbon=3, ribbon_low=1) as emulator, open_printer(emulator, link) as printer:
        for n in range(2):
            await printer.print_card(f"job-{n}", {"k": panel()})
        low = await printer.status()
        assert (low.state, low.reasons, low.supplies.ribbon_left) == (
            PrinterState.IDLE,
            (Reason.MARKER_SUPPLY_LOW_WARNING,),
            1,
        )
        await printer.print_card("job-2", {"k": panel()})
        with pytest.raises(RibbonError):
            await printer.print_card("job-3", {"k": panel()})
        assert (await printer.status()).reasons == (Reason.MARKER_SUPPLY_EMPTY_ERROR,)
        await emulator.act(Action.LOAD_RIBBON, prints=250)
        assert await printer.print_card("job-3", {"k": panel()}) == "KTP00000004"


async def test_the_hopper_runs_empty_after_its_last_blank_and_goes_on_with_the_next_tranche(
    start_emulator: StartEmulator, open_printer: OpenPrinter, panel: Panel
) -> None:
    async with (
        start_emulator(serials="KTP00000001-KTP00000002", feeder_low=1) as emulator,
        open_printer(emulator) as printer,
    ):
        await printer.print_card("job-1", {"k": panel()})
        assert (await printer.status()).reasons == (Reason.MEDIA_LOW_WARNING,)
        await printer.print_card("job-2", {"k": panel()})
        with pytest.raises(FeederEmpty):
            await printer.print_card("job-3", {"k": panel()})
        assert (await printer.status()).reasons == (Reason.MEDIA_EMPTY_ERROR,)
        await emulator.act(Action.LOAD_BLANKS, serials="KTP00008001-KTP00008016")
        assert await printer.print_card("job-3", {"k": panel()}) == "KTP00008001"


async def test_a_full_output_hopper_stops_the_printer_until_it_is_emptied(
    start_emulator: StartEmulator, open_printer: OpenPrinter, panel: Panel
) -> None:
    async with start_emulator(output_capacity=2) as emulator, open_printer(emulator) as printer:
        await printer.print_card("job-1", {"k": panel()})
        await printer.print_card("job-2", {"k": panel()})
        assert (await printer.status()).reasons == (Reason.OUTPUT_AREA_FULL_ERROR,)
        with pytest.raises(HopperFull):
            await printer.print_card("job-3", {"k": panel()})
        await emulator.act(Action.EMPTY_OUTPUT)
        assert await printer.print_card("job-3", {"k": panel()}) == "KTP00000003"


async def test_a_printer_that_does_not_answer_is_stopped_and_offline(printer: CardPrinter, emulator: Emulator) -> None:
    await emulator.inject(Fault.SLOW_REPLIES, delay=5.0)
    printer.transport.timeouts = replace(printer.transport.timeouts, short=0.2)
    status = await printer.status()
    assert (status.state, status.reasons, status.accepts_work) == (
        PrinterState.STOPPED,
        (Reason.OFFLINE,),
        False,
    )
    await emulator.clear(Fault.SLOW_REPLIES)
    assert (await printer.status()).state is PrinterState.IDLE


async def test_the_driver_reconnects_after_the_link_drops_while_idle(printer: CardPrinter, emulator: Emulator) -> None:
    await printer.status()
    await emulator.inject(Fault.LINK_DROP)
    identity = await printer.identify()
    assert identity.model == "Primacy"
    assert printer.transport.reconnects == 1


async def test_a_link_drop_mid_card_still_returns_the_serial_through_the_job_status(
    start_emulator: StartEmulator, open_printer: OpenPrinter, link: str, panel: Panel
) -> None:
    async with (
        start_emulator(**SLOW_CARDS, faults=("link_drop@1",)) as emulator,
        open_printer(emulator, link) as printer,
    ):
        assert await printer.print_card("job-dropped", {"k": panel()}) == "KTP00000001"
        assert printer.transport.reconnects >= 1
        assert [(r["job"], r["outcome"]) for r in emulator.card_log()] == [("job-dropped", "printed")]


async def test_power_loss_mid_card_makes_the_outcome_unknown_and_the_card_goes_to_the_reject_box(
    start_emulator: StartEmulator, open_printer: OpenPrinter, link: str, panel: Panel
) -> None:
    async with (
        start_emulator(**SLOW_CARDS, faults=("power_loss@1",)) as emulator,
        open_printer(emulator, link) as printer,
    ):
        with pytest.raises(OutcomeUnknown) as raised:
            await printer.print_card("job-dark", {"k": panel()})
        assert raised.value.job_id == "job-dark"
        assert (await printer.status()).reasons == (Reason.OFFLINE,)
        assert emulator.card_log() == []  # the card is still inside, in the dark
        await emulator.act(Action.POWER_ON)
        outcome = await printer.job_outcome("job-dark")
        assert outcome.status is JobStatus.UNKNOWN
        assert [(r["job"], r["outcome"], r["reason"]) for r in emulator.card_log()] == [
            ("job-dark", "rejected", "POWER LOSS")
        ]
        assert await printer.print_card("job-next", {"k": panel()}) == "KTP00000002"


async def test_a_printer_without_job_status_reports_a_link_lost_mid_card_as_unknown(
    start_emulator: StartEmulator, open_printer: OpenPrinter, panel: Panel
) -> None:
    async with (
        start_emulator(**SLOW_CARDS, faults=("link_drop@1",), extensions=frozenset({"Rst"})) as emulator,
        open_printer(emulator) as printer,
    ):
        with pytest.raises(OutcomeUnknown):
            await printer.print_card("job-blind", {"k": panel()})

        async def card_came_out() -> bool:
            return len(emulator.card_log()) == 1

        await wait_for(card_came_out, timeout=5, what="the card to come out")
        assert emulator.card_log()[0]["outcome"] == "printed"  # so blind reprinting would have made two


async def test_the_state_survives_an_emulator_restart(
    start_emulator: StartEmulator, open_printer: OpenPrinter, panel: Panel
) -> None:
    async with start_emulator() as emulator, open_printer(emulator) as printer:
        for n in range(2):
            await printer.print_card(f"job-{n}", {"k": panel()})
        await emulator.inject(Fault.COVER_OPEN)
    async with start_emulator() as emulator, open_printer(emulator) as printer:
        status = await printer.status()
        assert (status.reasons, status.supplies.cards_printed, status.supplies.ribbon_left) == (
            (Reason.COVER_OPEN_ERROR,),
            2,
            248,
        )
        assert (await printer.job_outcome("job-1")).serial == "KTP00000002"
        await emulator.act(Action.CLOSE_COVER)
        assert await printer.print_card("job-2", {"k": panel()}) == "KTP00000003"
        assert [record["serial"] for record in emulator.card_log()] == [
            "KTP00000001",
            "KTP00000002",
            "KTP00000003",
        ]
