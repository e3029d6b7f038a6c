"""A printer's URL reaches printers only: the gateway refuses, at registration (422 naming ``url``) and again
before it opens a port, every URL but a configured serial device or printer endpoint; only an admin registers
or removes a printer; and what a printer (or whatever answers at its address) sends never reaches the API."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.gateway.config import Settings
from services.gateway.fleet.service import new_printer_id
from services.gateway.fleet.states import PrinterLifecycle
from services.gateway.models import Printer
from tests.gateway.conftest import StartEmulator, commissioned, printer_state, wait_state
from tests.gateway.in_process import InProcessGateway, open_office
from tests.support import wait_for

PROBLEM_JSON = "application/problem+json"


def assert_url_refused(response: httpx.Response) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    [error] = response.json()["errors"]
    assert error["field"] == "url", error
    assert error["reason"], error


@pytest.fixture
def trace_file(tmp_path: Path) -> Path:
    """A file a ``spy://…?file=`` URL names: it must keep its content."""
    path = tmp_path / "kept.txt"
    path.write_text("an operator's file\n")
    return path


async def printer_row(office: InProcessGateway, name: str, url: str, state: PrinterLifecycle) -> str:
    """A printer written straight to the database, as a row written before URLs were checked would be."""
    async with office.dispatcher.gw.db.sessions.begin() as session:
        printer = Printer(
            id=new_printer_id(),
            name=name,
            driver="evolis",
            url=url,
            ribbon="ymcko",
            state=state,
            reasons=[],
            supplies={},
            cards_printed=0,
        )
        session.add(printer)
    return printer.id


async def commissioning_failed(client: httpx.AsyncClient, printer_id: str) -> bool:
    """Commissioning is over and failed: the printer is back at registered, with its last error."""
    body = await printer_state(client, printer_id)
    return body["state"] == "registered" and bool(body["last_error"])


@contextlib.asynccontextmanager
async def not_a_printer(banner: bytes) -> AsyncIterator[int]:
    """A TCP server on 127.0.0.1 that is no printer: it sends ``banner`` on connect and after every command."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            writer.write(banner)
            await writer.drain()
            while await reader.read(4096):
                writer.write(banner)
                await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server:
        yield server.sockets[0].getsockname()[1]


async def test_a_spy_url_is_refused_naming_url_and_the_file_it_names_is_left_alone(
    office: InProcessGateway, trace_file: Path
) -> None:
    admin = office.by_role["admin"]
    response = await admin.post("/v1/printers", json={"name": "trace", "url": f"spy://loop://?file={trace_file}"})
    assert_url_refused(response)
    assert trace_file.read_text() == "an operator's file\n"
    assert (await admin.get("/v1/printers", params={"include_removed": True})).json() == []
    assert (await admin.get("/v1/audit")).json()["items"] == []


@pytest.mark.parametrize(
    "url",
    [
        "loop://",
        "rfc2217://127.0.0.1:9",
        "hwgrep://.*",
        "alt://socket://127.0.0.1:9?class=PosixPollSerial",
        "cp2110://0001:0002:00",
        "spy://socket://127.0.0.1:9",
        "socket://127.0.0.1:9?logging=debug",
        "/etc/passwd",
        "/dev/ttyUSB0/../../tmp/x",
    ],
)
async def test_every_other_pyserial_url_is_refused(office: InProcessGateway, url: str) -> None:
    admin = office.by_role["admin"]
    assert_url_refused(await admin.post("/v1/printers", json={"name": "p", "url": url}))
    assert (await admin.get("/v1/printers")).json() == []


async def test_a_socket_url_to_an_endpoint_not_configured_is_refused(
    gateway_settings: Callable[..., Settings],
    client_for: Callable[..., httpx.AsyncClient],
    make_token: Callable[..., str],
) -> None:
    settings = gateway_settings(printer_hosts=["127.0.0.1:9100", "10.0.0.30:9100-9103"])
    async with open_office(settings, client_for, make_token) as office:
        admin = office.by_role["admin"]
        for url in ("socket://127.0.0.1:22", "socket://10.0.0.5:9100", "socket://localhost:9100"):
            assert_url_refused(await admin.post("/v1/printers", json={"name": "p", "url": url}))
        for name, url in (("front", "socket://127.0.0.1:9100"), ("back", "socket://10.0.0.30:9102")):
            response = await admin.post("/v1/printers", json={"name": name, "url": url})
            assert response.status_code == 201, response.text


async def test_a_printer_on_a_serial_device_the_settings_allow_is_commissioned(
    office: InProcessGateway, start_emulator: StartEmulator
) -> None:
    # The tests' settings allow the emulator's pseudo-terminal (/dev/pts/*); the link to it elsewhere does not.
    admin = office.by_role["admin"]
    async with start_emulator(name="p1", port=None, pty=True) as emu:
        device, link = emu.endpoints()["device"], emu.pty_path
        assert device.startswith("/dev/pts/"), device
        assert_url_refused(await admin.post("/v1/printers", json={"name": "by-link", "url": link}))
        printer = await commissioned(admin, "by-device", device)
        assert (printer["url"], printer["last_error"]) == (device, None)


async def test_only_an_admin_registers_or_removes_a_printer_and_an_operator_still_runs_it(
    office: InProcessGateway,
) -> None:
    operator, admin = office.by_role["operator"], office.by_role["admin"]
    body = {"name": "front-desk", "url": "socket://127.0.0.1:9"}
    refused = await operator.post("/v1/printers", json=body)
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"].endswith("/forbidden")
    created = await admin.post("/v1/printers", json=body)
    assert created.status_code == 201, created.text
    printer_id = created.json()["id"]
    assert (await operator.post(f"/v1/printers/{printer_id}/commission")).status_code == 202
    assert (await operator.delete(f"/v1/printers/{printer_id}")).status_code == 403
    assert (await admin.delete(f"/v1/printers/{printer_id}")).json()["state"] == "removed"


async def test_a_server_that_is_not_a_printer_never_has_its_banner_shown(office: InProcessGateway) -> None:
    operator, admin = office.by_role["operator"], office.by_role["admin"]
    seen: list[str] = []
    banners = [b"SSH-2.0-OpenSSH_9.2 secret\r\n", b"220 mail.internal ESMTP Postfix secret\r\n"]
    for number, banner in enumerate(banners):
        async with not_a_printer(banner) as port:
            created = await admin.post(
                "/v1/printers", json={"name": f"probe-{number}", "url": f"socket://127.0.0.1:{port}"}
            )
            assert created.status_code == 201, created.text
            printer_id = created.json()["id"]
            assert (await operator.post(f"/v1/printers/{printer_id}/commission")).status_code == 202

            await wait_for(partial(commissioning_failed, operator, printer_id), what="commissioning to fail")
        body = await printer_state(operator, printer_id)
        shown = json.dumps(body) + (await admin.get("/v1/audit", params={"limit": 500})).text
        for word in ("secret", "SSH", "OpenSSH", "ESMTP", "Postfix", "mail.internal"):
            assert word not in shown, (word, body["last_error"])
        seen.append(body["last_error"])
    # Our own sentence for the kind of failure: the same whatever the far end said.
    assert seen[0] == seen[1], seen
    assert seen[0].startswith("commissioning failed: "), seen


async def test_a_printer_row_with_a_forbidden_url_is_never_opened_by_commissioning(
    office: InProcessGateway, trace_file: Path
) -> None:
    printer_id = await printer_row(office, "old-row", f"spy://loop://?file={trace_file}", PrinterLifecycle.REGISTERED)
    operator = office.by_role["operator"]
    assert (await operator.post(f"/v1/printers/{printer_id}/commission")).status_code == 202
    await wait_for(partial(commissioning_failed, operator, printer_id), what="commissioning to be refused")
    assert trace_file.read_text() == "an operator's file\n"
    body = await printer_state(operator, printer_id)
    assert "not allowed" in body["last_error"], body
    assert "spy" not in body["last_error"], body
    assert str(trace_file) not in body["last_error"], body


async def test_a_running_printer_row_with_a_forbidden_url_is_never_opened_by_its_worker(
    office: InProcessGateway, trace_file: Path
) -> None:
    printer_id = await printer_row(office, "old-row", f"spy://loop://?file={trace_file}", PrinterLifecycle.READY)
    office.dispatcher.ensure_worker(printer_id)
    body: dict[str, Any] = await wait_state(office.by_role["operator"], printer_id, "stopped")
    assert trace_file.read_text() == "an operator's file\n"
    assert body["reasons"] == ["offline"]
    assert "not allowed" in body["last_error"], body
    await office.dispatcher.stop_worker(printer_id)
