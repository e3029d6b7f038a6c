"""Fixtures for the gateway tests: a gateway app on a migrated database, emulated printers on real ports.

The in-process app runs without peers (``start_loops=False`` unless a test asks): the fleet, commissioning,
polling and faults need only the printers. Integration tests (real processes) live in
``tests/gateway/test_integration.py`` with their fixtures in ``tests/processes.py``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from drivers.emulator import Emulator, EmulatorConfig
from services.common.auth import KeyPair
from services.gateway.app import create_app
from services.gateway.config import Settings
from services.gateway.fleet.printer_urls import DEFAULT_DEVICES
from tests.support import running, wait_for

StartEmulator = Callable[..., AbstractAsyncContextManager[Emulator]]

SAMPLE_CARD: dict[str, Any] = {
    "nik": "1809014501900002",
    "name": "SITI AMINAH",
    "birth_place": "GEDONG TATAAN",
    "birth_date": "1990-01-05",
    "sex": "F",
    "blood_type": "A",
    "address": "JL. RAYA KEDONDONG NO. 12",
    "rt": "003",
    "rw": "001",
    "village": "BERNUNG",
    "village_code": "18.09.01.2001",
    "kecamatan": "GEDONG TATAAN",
    "kecamatan_code": "18.09.01",
    "regency": "PESAWARAN",
    "province": "LAMPUNG",
    "religion": "ISLAM",
    "marital_status": "KAWIN",
    "occupation": "PETANI/PEKEBUN",
    "citizenship": "WNI",
    "valid_until": "SEUMUR HIDUP",
    "issued_at": "2026-11-29",
}


@pytest.fixture
def start_emulator(tmp_path: Path) -> StartEmulator:
    """``async with start_emulator(name="p1", speed=0) as emu``: a printer on a real TCP port."""

    @contextlib.asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Emulator]:
        name = overrides.get("name", "printer-1")
        settings: dict[str, Any] = {"time_scale": math.inf, "state_dir": tmp_path / f"emu-{name}"}
        async with Emulator(EmulatorConfig(**(settings | overrides))) as emulator:
            yield emulator

    return start


@pytest.fixture
def gateway_settings(migrated_db: Callable[[str], str], keys: KeyPair) -> Callable[..., Settings]:
    url = migrated_db("gateway")

    def make(**overrides: Any) -> Settings:
        base: dict[str, Any] = {
            "database_url": url,
            "jwt_public_key": keys.public_pem.decode(),
            "request_url": "http://127.0.0.1:9",  # nobody: tests without peers
            "inventory_url": "http://127.0.0.1:9",
            "poll_interval": 0.05,
            "idle_claim_interval": 0.05,
            "start_loops": False,
            "capacity_publish_interval": 3600,
            # The emulators listen on 127.0.0.1 ports picked at random, and have a pseudo-terminal: allowed here,
            # not by the gateway's defaults.
            "printer_hosts": ["127.0.0.1:*"],
            "printer_devices": [*DEFAULT_DEVICES, "/dev/pts/*"],
        }
        return Settings(**(base | overrides))

    return make


@pytest.fixture
async def gateway(
    gateway_settings: Callable[..., Settings],
    client_for: Callable[..., httpx.AsyncClient],
    make_token: Callable[..., str],
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app and an admin's client (an admin registers printers; everything else an operator does too)."""
    app = create_app(gateway_settings())
    async with running(app), client_for(app, make_token("admin")) as client:
        yield app, client


async def printer_state(client: httpx.AsyncClient, printer_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/printers/{printer_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_state(
    client: httpx.AsyncClient, printer_id: str, state: str, *, timeout: float = 10.0
) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    async def reached() -> bool:
        seen.update(await printer_state(client, printer_id))
        return seen["state"] == state

    await wait_for(reached, timeout=timeout, what=f"printer {printer_id} {state} (last seen {seen.get('state')})")
    return seen


async def commissioned(client: httpx.AsyncClient, name: str, url: str) -> dict[str, Any]:
    """Register and commission a printer; return it once ready."""
    response = await client.post("/v1/printers", json={"name": name, "url": url})
    assert response.status_code == 201, response.text
    printer_id = response.json()["id"]
    response = await client.post(f"/v1/printers/{printer_id}/commission")
    assert response.status_code == 202, response.text
    return await wait_state(client, printer_id, "ready")


@pytest.fixture
def templates(_templates: Any) -> Any:
    """The session's migrated template databases (tests/conftest.py), for services started as processes."""
    return _templates


@pytest.fixture
async def office(
    gateway_settings: Callable[..., Settings],
    client_for: Callable[..., httpx.AsyncClient],
    make_token: Callable[..., str],
) -> AsyncIterator[Any]:
    """The gateway in process with recording fake peers and a client per role (tests/gateway/in_process.py)."""
    from tests.gateway.in_process import open_office  # it imports this module's sample card

    async with open_office(gateway_settings(), client_for, make_token) as office:
        yield office
