"""The driver API over real pyserial links to the emulator: every command, on ``socket://`` and on a pty."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import pytest
import serial

from drivers import (
    BadParameters,
    CardPrinter,
    CommandRejected,
    Extension,
    Frame,
    JobStatus,
    PrinterState,
    PrinterTimedOut,
    Reason,
    Reply,
)
from drivers.emulator import Action, Emulator, Fault

Panel = Callable[..., bytes]
StartEmulator = Callable[..., AbstractAsyncContextManager[Emulator]]


async def test_identify_reports_model_firmware_serial_and_extensions(printer: CardPrinter) -> None:
    identity = await printer.identify()
    assert (identity.model, identity.firmware, identity.serial) == ("Primacy", "EKTP-EMU 1.0", "EMU-PRINTER1")
    assert identity.extensions == {"Rst", "Rco", "Rjs", "Ss.job", "Se.serial"}
    assert identity.print_time == 0


async def test_a_fresh_printer_is_idle_with_a_full_ribbon_and_no_cards_printed(printer: CardPrinter) -> None:
    status = await printer.status()
    assert status.state is PrinterState.IDLE
    assert status.reasons == ()
    assert (status.supplies.ribbon_left, status.supplies.cards_printed) == (250, 0)
    assert status.accepts_work


async def test_cards_take_the_blanks_from_the_hopper_in_serial_order(printer: CardPrinter, panel: Panel) -> None:
    serials = [await printer.print_card(f"job-{n}", {"k": panel()}) for n in range(3)]
    assert serials == ["KTP00000001", "KTP00000002", "KTP00000003"]
    supplies = (await printer.status()).supplies
    assert (supplies.ribbon_left, supplies.cards_printed) == (247, 3)


async def test_panel_data_full_of_cr_and_esc_bytes_arrives_intact(
    printer: CardPrinter, emulator: Emulator, panel: Panel
) -> None:
    panels = {
        "y": panel(64),
        "m": panel(64, b"\x1b\r\x1b"),
        "c": panel(32, b"\r"),
        "k": panel(),
        "o": panel(2, b"\xff"),
    }
    await printer.print_card("job-colour", panels)
    logged = emulator.card_log()[-1]["panels"]
    assert logged == {f"front.{name}": hashlib.sha256(data).hexdigest()[:16] for name, data in panels.items()}


async def test_both_sides_of_a_card_are_downloaded(printer: CardPrinter, emulator: Emulator, panel: Panel) -> None:
    await printer.print_card("job-duplex", {"k": panel()}, back={"k": panel(2, b"\x00")})
    assert set(emulator.card_log()[-1]["panels"]) == {"front.k", "back.k"}
    assert (await printer.status()).supplies.ribbon_left == 248  # a print a side


async def test_a_printed_job_is_done_with_its_serial(printer: CardPrinter, panel: Panel) -> None:
    serial_number = await printer.print_card("job-7", {"k": panel()})
    outcome = await printer.job_outcome("job-7")
    assert (outcome.status, outcome.serial) == (JobStatus.DONE, serial_number)


async def test_a_job_the_printer_never_saw_is_unknown(printer: CardPrinter) -> None:
    assert (await printer.job_outcome("job-nobody-sent")).status is JobStatus.UNKNOWN


async def test_printing_a_done_job_again_returns_its_serial_without_a_second_card(
    printer: CardPrinter, emulator: Emulator, panel: Panel
) -> None:
    first = await printer.print_card("job-once", {"k": panel()})
    again = await printer.print_card("job-once", {"k": panel()})
    assert again == first
    assert [record["job"] for record in emulator.card_log()] == ["job-once"]


async def test_the_contactless_step_sees_the_card_serial_before_it_is_printed(
    printer: CardPrinter, emulator: Emulator, panel: Panel
) -> None:
    seen: list[str | None] = []

    async def write_chip(serial_number: str | None) -> None:
        seen.append(serial_number)
        assert emulator.card_log() == []  # the card is still inside

    printed = await printer.print_card("job-chip", {"k": panel()}, contactless=write_chip)
    assert seen == [printed] == ["KTP00000001"]


async def test_a_card_whose_chip_cannot_be_written_is_cancelled_into_the_reject_box(
    printer: CardPrinter, emulator: Emulator, panel: Panel
) -> None:
    async def broken_chip(serial_number: str | None) -> None:
        raise OSError("chip does not answer")

    with pytest.raises(OSError, match="chip"):
        await printer.print_card("job-bad-chip", {"k": panel()}, contactless=broken_chip)
    outcome = await printer.cancel("job-bad-chip")
    assert (outcome.status, outcome.reason) == (JobStatus.FAILED, "REJECTED")
    assert [(r["serial"], r["outcome"]) for r in emulator.card_log()] == [("KTP00000001", "rejected")]
    assert (await printer.status()).card_inside is False


async def test_cancelling_a_job_that_already_came_out_reports_it_done(printer: CardPrinter, panel: Panel) -> None:
    serial_number = await printer.print_card("job-late-cancel", {"k": panel()})
    outcome = await printer.cancel("job-late-cancel")
    assert (outcome.status, outcome.serial) == (JobStatus.DONE, serial_number)


async def test_reject_ejects_the_card_at_the_contactless_station(
    printer: CardPrinter, emulator: Emulator, panel: Panel
) -> None:
    async def then_reject(serial_number: str | None) -> None:
        raise LookupError("stop here")

    with pytest.raises(LookupError):
        await printer.print_card("job-r", {"k": panel()}, contactless=then_reject)
    assert (await printer.status()).card_inside is True
    await printer.reject()
    assert (await printer.status()).card_inside is False
    assert emulator.card_log()[-1]["outcome"] == "rejected"


async def test_reset_drops_the_open_sequence_and_rejects_the_loose_card(
    printer: CardPrinter, emulator: Emulator, panel: Panel
) -> None:
    async def stop(serial_number: str | None) -> None:
        raise LookupError("stop here")

    with pytest.raises(LookupError):
        await printer.print_card("job-reset", {"k": panel()}, contactless=stop)
    await printer.reset()
    assert (await printer.job_outcome("job-reset")).reason == "RESET"
    assert emulator.card_log()[-1]["reason"] == "RESET"


async def test_self_test_prints_a_test_card_on_a_blank(printer: CardPrinter, emulator: Emulator) -> None:
    serial_number = await printer.self_test()
    assert serial_number == "KTP00000001"
    record = emulator.card_log()[-1]
    assert (record["outcome"], record["test"], record["job"]) == ("printed", True, None)


async def test_cleaning_clears_the_other_warning_a_printer_gives_when_cleaning_is_due(
    start_emulator: StartEmulator, open_printer: Callable[..., CardPrinter], link: str, panel: Panel
) -> None:
    async with start_emulator(clean_after=2) as emulator, open_printer(emulator, link) as printer:
        for n in range(2):
            await printer.print_card(f"job-{n}", {"k": panel()})
        due = await printer.status()
        assert (due.state, due.reasons) == (PrinterState.IDLE, (Reason.OTHER_WARNING,))
        await printer.clean()
        assert (await printer.status()).reasons == ()


async def test_clear_status_after_an_operator_fixed_a_jam_leaves_the_printer_idle(
    printer: CardPrinter, emulator: Emulator
) -> None:
    await emulator.inject(Fault.CARD_JAM)
    assert (await printer.status()).state is PrinterState.STOPPED
    await emulator.act(Action.CLEAR_JAM)
    await printer.clear_status()
    assert (await printer.status()).state is PrinterState.IDLE
    assert emulator.snapshot()["last_error"] is None


async def test_a_panel_of_the_wrong_size_is_refused_before_anything_is_sent(
    printer: CardPrinter, emulator: Emulator
) -> None:
    with pytest.raises(ValueError, match="panel"):
        await printer.print_card("job-small", {"k": b"\x00" * 1000})
    with pytest.raises(ValueError, match="unknown panel"):
        await printer.print_card("job-white", {"w": b"\x00" * 82296})
    assert not emulator.snapshot()["sequence_open"]


async def test_a_download_whose_size_does_not_match_its_levels_gets_error_parametres(
    printer: CardPrinter, panel: Panel
) -> None:
    await printer.transport.request(Frame("Ss", ("job-x",)))
    wrong = Frame("Dbc", ("k", "4", str(len(panel()))), panel())  # 4 levels need twice the bytes
    with pytest.raises(BadParameters):
        (await printer.transport.request(wrong)).raise_for_error()


async def test_an_unknown_command_gets_error_cde(printer: CardPrinter) -> None:
    with pytest.raises(CommandRejected):
        (await printer.transport.request(Frame("Zap"))).raise_for_error()


async def test_a_download_that_stops_halfway_gets_error_time_out(start_emulator: StartEmulator, link: str) -> None:
    def talk(url: str) -> list[bytes]:
        # Plain pyserial, as a host that gives up in the middle of a panel would use it.
        port = serial.serial_for_url(url, timeout=5)
        try:
            port.write(b"\x1bSs\r")
            started = port.read_until(b"\r")
            port.write(b"\x1bDbc;k;2;82296\r" + b"\x00" * 1000)
            return [started, port.read_until(b"\r")]
        finally:
            port.close()

    async with start_emulator(download_timeout=0.1) as emulator:
        started, reply = await asyncio.to_thread(talk, emulator.url if link == "socket" else emulator.pty_path)
    assert started == b"OK\r"
    with pytest.raises(PrinterTimedOut):
        Reply.decode(reply).raise_for_error()


async def test_a_plain_evolis_printer_is_driven_without_any_extension(
    start_emulator: StartEmulator, open_printer: Callable[..., CardPrinter], link: str, panel: Panel
) -> None:
    async with start_emulator(extensions=frozenset()) as emulator, open_printer(emulator, link) as printer:
        assert printer.identity.extensions == frozenset()
        assert not printer.supports(Extension.STATUS)
        assert await printer.print_card("job-plain", {"k": panel()}) is None  # no serial in the Se reply
        assert (await printer.job_outcome("job-plain")).status is JobStatus.UNKNOWN
        status = await printer.status()
        assert (status.state, status.supplies.ribbon_left) == (PrinterState.IDLE, None)
        await emulator.inject(Fault.COVER_OPEN)
        stopped = await printer.status()  # from Rlr;p, the one plain question that answers with the error
        assert (stopped.state, stopped.reasons) == (PrinterState.STOPPED, (Reason.COVER_OPEN_ERROR,))
        assert [record["job"] for record in emulator.card_log()] == [None]  # it never heard of jobs


async def test_a_printer_offering_only_some_extensions_gets_only_those_used(
    start_emulator: StartEmulator, open_printer: Callable[..., CardPrinter], panel: Panel
) -> None:
    async with (
        start_emulator(extensions=frozenset({"Rst", "Se.serial"})) as emulator,
        open_printer(emulator) as printer,
    ):
        assert await printer.print_card("job-some", {"k": panel()}) == "KTP00000001"
        status = await printer.status()
        assert (status.state, status.supplies.ribbon_left) == (PrinterState.IDLE, None)
        assert (await printer.job_outcome("job-some")).status is JobStatus.UNKNOWN


async def test_replies_without_cr_like_a_real_evolis_are_ended_by_an_idle_gap(
    start_emulator: StartEmulator, open_printer: Callable[..., CardPrinter], link: str, panel: Panel
) -> None:
    async with (
        start_emulator(terminator=False) as emulator,
        open_printer(emulator, link, idle_gap=0.03) as printer,
    ):
        assert printer.identity.model == "Primacy"
        assert await printer.print_card("job-gap", {"k": panel()}) == "KTP00000001"


async def test_a_reply_split_across_several_reads_is_read_whole(printer: CardPrinter, emulator: Emulator) -> None:
    await emulator.inject(Fault.SPLIT_REPLIES, size=2, pause=0.01)
    identity = await printer.identify()
    assert (identity.model, identity.firmware) == ("Primacy", "EKTP-EMU 1.0")
    assert "Rjs" in identity.extensions


async def test_print_time_follows_speed_and_time_scale(
    start_emulator: StartEmulator, open_printer: Callable[..., CardPrinter], panel: Panel
) -> None:
    async with start_emulator(speed=360, time_scale=100) as emulator, open_printer(emulator) as printer:
        assert printer.identity.print_time == pytest.approx(0.1)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await printer.print_card("job-timed", {"k": panel()})
        assert 0.1 <= loop.time() - started < 1.0
