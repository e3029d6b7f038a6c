"""The fleet through HTTP against emulated printers on real ports: register, commission, state and reasons
kept fresh by polling, faults that stop a printer and clear by themselves, pause, resume, remove."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI

from drivers.emulator import Action, Fault
from services.gateway.app import create_app
from tests.gateway.conftest import StartEmulator, commissioned, printer_state, wait_state
from tests.support import running, wait_for


async def test_commissioning_identifies_the_printer_prints_a_test_card_and_makes_it_ready(
    gateway: tuple[FastAPI, httpx.AsyncClient], start_emulator: StartEmulator
) -> None:
    _, client = gateway
    async with start_emulator(name="p1", model="Primacy", firmware="EKTP-EMU 1.0") as emu:
        assert emu.url is not None
        printer = await commissioned(client, "p1", emu.url)
        assert (printer["model"], printer["firmware"], printer["serial"]) == ("Primacy", "EKTP-EMU 1.0", "EMU-P1")
        assert printer["commissioned_at"] is not None
        assert printer["supplies"]["ribbon_left"] == 249
        tests = [card for card in emu.card_log() if card["test"]]
        assert len(tests) == 1


async def test_commissioning_an_unreachable_printer_leaves_it_registered_with_the_error(
    gateway: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    _, client = gateway
    created = (await client.post("/v1/printers", json={"name": "gone", "url": "socket://127.0.0.1:9"})).json()
    await client.post(f"/v1/printers/{created['id']}/commission")

    async def failed() -> bool:
        body = await printer_state(client, created["id"])
        return body["state"] == "registered" and bool(body["last_error"])

    await wait_for(failed, what="commissioning to fail")


async def test_a_second_printer_with_the_same_name_is_refused(gateway: tuple[FastAPI, httpx.AsyncClient]) -> None:
    _, client = gateway
    assert (await client.post("/v1/printers", json={"name": "p", "url": "socket://127.0.0.1:1"})).status_code == 201
    response = await client.post("/v1/printers", json={"name": "p", "url": "socket://127.0.0.1:2"})
    assert response.status_code == 409
    assert response.json()["type"].endswith("printer-name-taken")


async def test_only_an_admin_registers_a_printer(
    gateway: tuple[FastAPI, httpx.AsyncClient], make_token: Callable[..., str]
) -> None:
    _, client = gateway
    for role in ("operator", "clerk", "partner", "service"):
        scope = ["18.09.01"] if role == "clerk" else []
        headers = {"Authorization": f"Bearer {make_token(role, scope=scope)}"}
        response = await client.post("/v1/printers", json={"name": "x", "url": "socket://a:1"}, headers=headers)
        assert response.status_code == 403


async def test_each_fault_stops_the_printer_with_its_reason_and_it_comes_back_when_cleared(
    gateway: tuple[FastAPI, httpx.AsyncClient], start_emulator: StartEmulator
) -> None:
    _, client = gateway
    faults = [
        (Fault.CARD_JAM, "media-jam-error", Action.CLEAR_JAM),
        (Fault.RIBBON_OUT, "marker-supply-empty-error", None),
        (Fault.COVER_OPEN, "cover-open-error", None),
        (Fault.FEEDER_EMPTY, "media-empty-error", None),
        (Fault.OUTPUT_FULL, "output-area-full-error", None),
    ]
    async with start_emulator(name="p1") as emu:
        assert emu.url is not None
        printer = await commissioned(client, "p1", emu.url)
        for fault, reason, action in faults:
            await emu.inject(fault)
            stopped = await wait_state(client, printer["id"], "stopped")
            assert reason in stopped["reasons"]
            if action is not None:
                await emu.act(action)
            await emu.clear(fault)
            ready = await wait_state(client, printer["id"], "ready")
            assert reason not in ready["reasons"]


async def test_a_printer_that_loses_power_is_offline_until_it_returns(
    gateway: tuple[FastAPI, httpx.AsyncClient], start_emulator: StartEmulator
) -> None:
    _, client = gateway
    async with start_emulator(name="p1") as emu:
        assert emu.url is not None
        printer = await commissioned(client, "p1", emu.url)
        await emu.inject(Fault.POWER_LOSS)
        stopped = await wait_state(client, printer["id"], "stopped")
        assert "offline" in stopped["reasons"]
        await emu.act(Action.POWER_ON)
        await wait_state(client, printer["id"], "ready", timeout=15)


async def test_pause_resume_and_remove_follow_the_state_table(
    gateway: tuple[FastAPI, httpx.AsyncClient], start_emulator: StartEmulator
) -> None:
    _, client = gateway
    async with start_emulator(name="p1") as emu:
        assert emu.url is not None
        printer = await commissioned(client, "p1", emu.url)
        pid = printer["id"]
        assert (await client.post(f"/v1/printers/{pid}/pause")).json()["state"] == "paused"
        await emu.inject(Fault.COVER_OPEN)

        async def reason_seen() -> bool:
            return "cover-open-error" in (await printer_state(client, pid))["reasons"]

        await wait_for(reason_seen, what="reasons kept fresh while paused")
        assert (await printer_state(client, pid))["state"] == "paused"
        await emu.clear(Fault.COVER_OPEN)
        assert (await client.post(f"/v1/printers/{pid}/resume")).json()["state"] == "ready"
        assert (await client.delete(f"/v1/printers/{pid}")).json()["state"] == "removed"
        response = await client.post(f"/v1/printers/{pid}/resume")
        assert response.status_code == 409
        listed = (await client.get("/v1/printers")).json()
        assert pid not in [p["id"] for p in listed]


async def test_printers_named_in_the_settings_are_registered_and_commissioned_at_start(
    gateway_settings: Callable[..., Any],
    client_for: Callable[..., httpx.AsyncClient],
    make_token: Callable[..., str],
    start_emulator: StartEmulator,
) -> None:
    async with start_emulator(name="p1") as emu:
        settings = gateway_settings(printers=f"front-desk={emu.url}")
        assert settings.printer_list() == [("front-desk", emu.url)]
        app = create_app(settings)
        async with running(app), client_for(app, make_token("operator")) as client:  # nobody registered it by hand

            async def ready() -> bool:
                printers = (await client.get("/v1/printers")).json()
                return [(p["name"], p["state"]) for p in printers] == [("front-desk", "ready")]

            await wait_for(ready, what="the configured printer ready")
        # Started again: it exists, so it is not registered twice.
        async with running(create_app(settings)) as again, client_for(again, make_token("operator")) as client:
            assert len((await client.get("/v1/printers")).json()) == 1
