"""The emulator as its users meet it: a raw pty, the control API and its client, the command line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import select
import signal
import socket
import sys
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from drivers import CardPrinter, CoverOpen, JobStatus, PrinterState, Reason
from drivers.emulator import Emulator, EmulatorConfig, Fault, FaultSpec
from drivers.emulator.control_client import control_headers
from tests.support import free_port_block, wait_for

Panel = Callable[..., bytes]
OpenPrinter = Callable[..., CardPrinter]
EmulatorProcess = Callable[..., AbstractAsyncContextManager[Any]]
EMULATOR_COMMAND = (sys.executable, "-m", "drivers.emulator")


def _control(emulator: Emulator | dict[str, Any]) -> httpx.AsyncClient:
    """An HTTP client of the emulator's control API with its token: in-process, or from its JSON line."""
    if isinstance(emulator, Emulator):
        url, headers = str(emulator.control_url), {"Authorization": f"Bearer {emulator.control_token}"}
    else:
        url, headers = emulator["control"], control_headers(emulator["control_token_file"])
    return httpx.AsyncClient(base_url=url, headers=headers)


def _raw_exchange(path: str, data: bytes) -> bytes:
    """Write to the pty as a bare program would (no pyserial, no termios of ours) and read until CR."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    try:
        os.write(fd, data)
        reply = b""
        while not reply.endswith(b"\r") and select.select([fd], [], [], 5)[0]:
            reply += os.read(fd, 1024)
        return reply
    finally:
        os.close(fd)


async def test_the_pty_is_raw_no_echo_and_no_cr_translation(emulator: Emulator) -> None:
    assert emulator.pty_path is not None
    assert await asyncio.to_thread(_raw_exchange, emulator.pty_path, b"\x1bRtp\r") == b"Primacy\r"


async def test_the_control_api_injects_faults_and_takes_operator_actions(
    emulator: Emulator, open_printer: OpenPrinter, panel: Panel
) -> None:
    async with (
        _control(emulator) as control,
        open_printer(emulator) as printer,
    ):
        state = (await control.post("/faults/card_jam", json={})).json()
        assert (state["state"], state["reasons"]) == ("stopped", ["media-jam-error"])
        assert (await printer.status()).reasons == (Reason.MEDIA_JAM_ERROR,)
        assert (await control.delete("/faults/card_jam")).json()["state"] == "idle"

        armed = (await control.post("/faults/ribbon_out", json={"at_card": 2})).json()
        assert armed["armed"] == [{"fault": "ribbon_out", "card": 2}]
        await printer.print_card("job-1", {"k": panel()})
        assert (await control.post("/actions/load_blanks", json={"serials": "KTP00009001-KTP00009010"})).is_success

        log = (await control.get("/log")).json()
        assert [(record["job"], record["serial"], record["outcome"]) for record in log] == [
            ("job-1", "KTP00000001", "printed")
        ]
        assert (await control.get("/healthz")).json() == {"ok": True}
        assert (await control.post("/faults/meteor_strike", json={})).status_code == 404
        assert (await control.post("/actions/load_blanks", json={"serials": "a lot"})).status_code == 400
        assert (await control.post("/faults/slow_replies", json={"delay": "soon"})).status_code == 400
        assert (await control.get("/faults/card_jam")).status_code == 405
        bad_json = {"Content-Type": "application/json"}
        assert (await control.post("/actions/clear_jam", content=b"not json", headers=bad_json)).status_code == 400


async def test_the_control_api_answers_no_caller_without_the_emulators_token(emulator: Emulator) -> None:
    token_file = Path(str(emulator.control_token_file))
    assert token_file.read_text().strip() == emulator.control_token
    assert token_file.stat().st_mode & 0o777 == 0o600
    refused: tuple[dict[str, str], ...] = (
        {},
        {"Authorization": "Bearer not-the-token"},
        {"Authorization": f"Basic {emulator.control_token}"},
    )
    async with httpx.AsyncClient(base_url=str(emulator.control_url)) as stranger:
        for headers in refused:
            for method, path in (("GET", "/state"), ("GET", "/log"), ("GET", "/healthz"), ("POST", "/faults/card_jam")):
                body: dict[str, Any] | None = {} if method == "POST" else None
                response = await stranger.request(method, path, json=body, headers=headers)
                assert response.status_code == 401, (method, path, headers, response.text)
                assert response.headers["www-authenticate"] == "Bearer"
                assert str(emulator.control_token) not in response.text
    assert emulator.snapshot()["state"] == "idle"  # the jam never happened


async def test_the_control_api_takes_json_only_so_a_web_form_cannot_drive_the_printer(emulator: Emulator) -> None:
    blanks = emulator.snapshot()["blanks_left"]
    async with _control(emulator) as control:
        form = await control.post("/actions/load_blanks", data={"serials": "KTP00009001-KTP00009010"})
        plain = await control.post(
            "/actions/load_blanks",
            content=b'{"serials": "KTP00009001-KTP00009010"}',
            headers={"Content-Type": "text/plain"},
        )
        bare = await control.post("/faults/card_jam")
        deleted_with_a_form = await control.request("DELETE", "/faults/card_jam", data={"x": "1"})
        assert [form.status_code, plain.status_code, bare.status_code, deleted_with_a_form.status_code] == [415] * 4
        with_charset = {"Content-Type": "application/json; charset=utf-8"}
        assert (await control.post("/faults/card_jam", content=b"{}", headers=with_charset)).status_code == 200
    assert emulator.snapshot()["blanks_left"] == blanks


async def test_the_control_api_listens_on_loopback_unless_remote_control_is_asked_for(tmp_path: Path) -> None:
    for host in ("0.0.0.0", "::", "192.0.2.7", "printer.example"):
        with pytest.raises(ValueError, match="loopback only"):
            EmulatorConfig(control_host=host)
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        assert EmulatorConfig(control_host=host).control_host == host
    assert EmulatorConfig(control_host="0.0.0.0", control_port=None).control_port is None  # no control API at all

    async with Emulator(EmulatorConfig(control_host="0.0.0.0", control_remote=True, state_dir=tmp_path)) as remote:
        assert remote.control_url is not None
        assert remote.control_url.startswith("http://0.0.0.0:")
        port = remote.control_url.rsplit(":", 1)[1]
        async with httpx.AsyncClient() as stranger:
            assert (await stranger.get(f"http://127.0.0.1:{port}/state")).status_code == 401  # the token still counts

    refused = await asyncio.create_subprocess_exec(
        *EMULATOR_COMMAND, "--port", "0", "--control-port", "0", "--control-host", "0.0.0.0",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    async with asyncio.timeout(20):
        _, err = await refused.communicate()
    assert refused.returncode == 2
    assert "loopback only" in err.decode()


async def test_a_printer_on_every_interface_keeps_its_control_api_on_loopback(
    emulator_process: EmulatorProcess,
) -> None:
    async with emulator_process("--host", "0.0.0.0", "--port", "0", "--control-port", "0") as run:
        info = run.printers[0]
        assert info["url"].startswith("socket://0.0.0.0:")
        assert info["control"].startswith("http://127.0.0.1:")
        token_file = Path(info["control_token_file"])
        assert token_file.stat().st_mode & 0o777 == 0o600
        assert token_file.parent.stat().st_mode & 0o777 == 0o700  # a private temporary folder, no state dir given
        async with _control(info) as control:
            assert (await control.get("/healthz")).json() == {"ok": True}
    assert not token_file.exists()  # removed with its folder on stop


async def test_the_control_client_command_line_injects_a_fault(emulator: Emulator) -> None:
    client = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "drivers.emulator.control_client",
        str(emulator.control_url),
        "--token-file",
        str(emulator.control_token_file),
        "fault",
        "slow_replies",
        "delay=0.25",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(20):
        out, err = await client.communicate()
    assert client.returncode == 0, err.decode()
    assert b'"reply_delay": 0.25' in out
    assert emulator.snapshot()["reply_delay"] == 0.25


def _url(emulator: Emulator, link: str) -> str:
    url = emulator.url if link == "socket" else emulator.pty_path
    assert url is not None
    return url


async def test_an_operator_opening_the_cover_stops_the_printer_until_it_is_closed(
    emulator: Emulator, open_printer: OpenPrinter, link: str, panel: Panel
) -> None:
    async with (
        _control(emulator) as control,
        open_printer(_url(emulator, link)) as printer,
    ):
        state = (await control.post("/actions/open_cover", json={})).json()
        assert (state["state"], state["reasons"], state["cover_open"]) == ("stopped", ["cover-open-error"], True)
        status = await printer.status()
        assert (status.state, status.reasons, status.accepts_work) == (
            PrinterState.STOPPED,
            (Reason.COVER_OPEN_ERROR,),
            False,
        )
        with pytest.raises(CoverOpen):
            await printer.print_card("job-cover", {"k": panel()})
        assert emulator.card_log() == []  # no blank was fed with the cover open

        state = (await control.post("/actions/close_cover", json={})).json()
        assert (state["state"], state["reasons"], state["cover_open"]) == ("idle", [], False)
        status = await printer.status()
        assert (status.state, status.reasons, status.accepts_work) == (PrinterState.IDLE, (), True)
        assert await printer.print_card("job-cover", {"k": panel()}) == "KTP00000001"


async def _control_client(emulator: Emulator, *args: str) -> dict[str, Any]:
    """``python -m drivers.emulator.control_client URL --token-file FILE ARGS`` as an operator types it."""
    client = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "drivers.emulator.control_client",
        str(emulator.control_url),
        "--token-file",
        str(emulator.control_token_file),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(20):
        out, err = await client.communicate()
    assert client.returncode == 0, err.decode()
    answer: dict[str, Any] = json.loads(out)
    return answer


async def test_an_operator_switching_the_printer_off_makes_it_offline_until_it_is_switched_on(
    emulator: Emulator, open_printer: OpenPrinter, link: str, panel: Panel
) -> None:
    async with open_printer(_url(emulator, link)) as printer:
        assert await printer.print_card("job-before", {"k": panel()}) == "KTP00000001"

        state = await _control_client(emulator, "action", "power_off")
        assert (state["powered"], state["state"], state["reasons"]) == (False, "stopped", ["offline"])
        status = await printer.status()
        assert (status.state, status.reasons, status.accepts_work) == (PrinterState.STOPPED, (Reason.OFFLINE,), False)
        if link == "pty":
            assert not Path(_url(emulator, link)).exists()  # the device is gone, as a switched-off USB printer's

        state = await _control_client(emulator, "action", "power_on")
        assert (state["powered"], state["state"], state["reasons"]) == (True, "idle", [])
        status = await printer.status()
        assert (status.state, status.reasons) == (PrinterState.IDLE, ())
        assert status.supplies.cards_printed == 1  # the same printer, its counters kept
        assert (await printer.identify()).model == "Primacy"
        assert await printer.print_card("job-after", {"k": panel()}) == "KTP00000002"
        assert printer.transport.reconnects >= 1


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["sigterm", "ctrl-c"])
async def test_ektp_emulator_serves_a_printer_on_the_ports_given_until_it_is_stopped(
    emulator_process: EmulatorProcess, open_printer: OpenPrinter, stop: signal.Signals
) -> None:
    ektp = Path(sys.executable).with_name("ektp")  # the console script the package installs
    assert ektp.exists(), f"{ektp} is not installed"
    port = free_port_block(2)
    control_port = port + 1
    args = ("--port", str(port), "--control-port", str(control_port), "--time-scale", "inf", "--name", "desk-3")
    async with emulator_process(*args, program=(str(ektp), "emulator")) as run:
        info = run.printers[0]
        assert (info["name"], info["url"], info["control"], info["pid"]) == (
            "desk-3",
            f"socket://127.0.0.1:{port}",
            f"http://127.0.0.1:{control_port}",
            run.process.pid,
        )
        async with open_printer(info["url"]) as printer:
            identity = await printer.identify()
            assert (identity.model, identity.firmware, identity.serial) == ("Primacy", "EKTP-EMU 1.0", "EMU-DESK3")
        async with _control(info) as control:
            assert (await control.get("/healthz")).json() == {"ok": True}
        run.process.send_signal(stop)
        async with asyncio.timeout(10):
            _, err = await run.process.communicate()
        assert run.process.returncode == 0, err.decode()
        assert b"Traceback" not in err
    for gone in (port, control_port):
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", gone), timeout=5).close()


def test_scripted_faults_read_name_and_card() -> None:
    assert FaultSpec.parse("card_jam@3") == FaultSpec(Fault.CARD_JAM, 3)
    assert FaultSpec.parse("power_loss") == FaultSpec(Fault.POWER_LOSS, None)
    with pytest.raises(ValueError, match="bad fault"):
        FaultSpec.parse("card_jam@0")


async def test_the_command_line_prints_its_endpoints_as_json_and_stops_cleanly_on_sigterm(
    emulator_process: EmulatorProcess, open_printer: OpenPrinter, panel: Panel, tmp_path: Path
) -> None:
    args = (
        "--port",
        "0",
        "--control-port",
        "0",
        "--pty",
        "--time-scale",
        "inf",
        "--state-dir",
        str(tmp_path),
    )
    async with emulator_process(*args, "--fault", "cover_open", "--serials", "KTP00000101-KTP00000200") as run:
        info = run.printers[0]
        assert info["url"].startswith("socket://127.0.0.1:")
        assert info["control"].startswith("http://127.0.0.1:")
        assert info["pty"] == str(tmp_path / "printer-1.tty")
        assert any(line.endswith(info["url"]) for line in run.lines)
        for url in (info["url"], info["pty"]):
            async with open_printer(url) as printer:
                assert (await printer.status()).reasons == (Reason.COVER_OPEN_ERROR,)
        async with _control(info) as control:
            assert (await control.post("/actions/close_cover", json={})).status_code == 200
        async with open_printer(info["pty"]) as printer:
            assert await printer.print_card("job-cli", {"k": panel()}) == "KTP00000101"
        run.process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            assert await run.process.wait() == 0
    assert not Path(info["pty"]).exists()
    assert '"job": "job-cli"' in (tmp_path / "cards.jsonl").read_text()


async def test_an_idle_emulator_uses_no_cpu(emulator_process: EmulatorProcess) -> None:
    args = ("--port", "0", "--control-port", "0", "--pty", "--count", "2")
    async with emulator_process(*args, printers=2) as run:
        assert run.printers[0]["url"] != run.printers[1]["url"]
        process = psutil.Process(run.process.pid)
        before = process.cpu_times()
        await asyncio.sleep(1.0)  # the measuring window, not a wait for a condition
        after = process.cpu_times()
    used = (after.user - before.user) + (after.system - before.system)
    assert used < 0.05, f"two idle emulators used {used:.3f} s of CPU in 1 s"


async def test_an_emulator_killed_mid_card_comes_back_with_the_card_rejected_and_the_job_unknown(
    emulator_process: EmulatorProcess, open_printer: OpenPrinter, panel: Panel, tmp_path: Path
) -> None:
    args = ("--port", "0", "--control-port", "0", "--state-dir", str(tmp_path), "--speed", "360")
    async with emulator_process(*args) as run:
        info = run.printers[0]
        async with open_printer(info["url"]) as printer, _control(info) as control:
            printing = asyncio.create_task(printer.print_card("job-killed", {"k": panel()}))

            async def card_is_printing() -> bool:
                return bool((await control.get("/state")).json()["printing"])

            await wait_for(card_is_printing, what="the card to start printing")
            run.process.send_signal(signal.SIGKILL)  # the power cord, as far as the state dir can tell
            await run.process.wait()
            printing.cancel()  # the gateway gives up on that card: it would send the job to review
            with contextlib.suppress(asyncio.CancelledError):
                await printing
    async with (
        emulator_process(*args, "--time-scale", "inf") as run,
        open_printer(run.printers[0]["url"]) as printer,
    ):
        assert (await printer.job_outcome("job-killed")).status is JobStatus.UNKNOWN
        log = (tmp_path / "cards.jsonl").read_text()
        assert '"job": "job-killed"' in log
        assert '"reason": "POWER LOSS"' in log
        assert await printer.print_card("job-after", {"k": panel()}) == "KTP00000002"
