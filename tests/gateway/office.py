"""An office for the gateway's integration tests: the three services as processes, printers, requests.

``ProcessStack`` wraps a ``tests.processes.Stack`` with what the tests say in their own words: receive blanks,
submit requests, commission printers, wait until everything is printed, and read the emulators' card logs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from services.common.auth import KeyPair
from services.request.regions.service import load_catalog
from tests.factories import request_body
from tests.processes import EmulatorProcess, Stack, Templates, office_stack
from tests.support import wait_for

VILLAGE = load_catalog("18.09").kecamatan["18.09.01"].villages[0]


class ProcessStack:
    def __init__(self, stack: Stack, exits: AsyncExitStack, tmp: Path) -> None:
        self.stack, self.exits, self.tmp = stack, exits, tmp
        self.emulators: dict[str, EmulatorProcess] = {}
        self._clients: dict[tuple[str, str], httpx.AsyncClient] = {}
        self.printer_ids: dict[str, str] = {}
        self._serial = 0

    # -- services -------------------------------------------------------------------------------------

    async def start_services(self, *, gateway: bool = True, **gateway_env: Any) -> None:
        self.stack.configure("request", fair_spacing_seconds=0)
        self.stack.configure("inventory", urgent_reserve_count=0)
        defaults = {
            "poll_interval": 0.1,
            "idle_claim_interval": 0.05,
            "peer_retry_max_wait": 0.3,
            "lease_seconds": 20,
            "card_margin": 2,
            "capacity_publish_interval": 1,
        }
        self.stack.configure("gateway", **(defaults | gateway_env))
        await asyncio.gather(self.stack.start("request"), self.stack.start("inventory"))
        if gateway:
            await self.stack.start("gateway")

    def client(self, service: str, role: str = "operator") -> httpx.AsyncClient:
        if (service, role) not in self._clients:
            client = self.stack.client(service, role)
            self.exits.push_async_callback(client.aclose)
            self._clients[service, role] = client
        return self._clients[service, role]

    async def receive_blanks(self, first: str, last: str) -> None:
        inventory = self.client("inventory")
        response = await inventory.post(
            "/v1/tranches",
            json={
                "reference": f"T-{first}",
                "received_on": dt.date.today().isoformat(),
                "ranges": [{"first": first, "last": last}],
                "received_by": "operator-it",
            },
        )
        assert response.status_code == 201, response.text

    async def submit(self, count: int, *, urgent: bool = False) -> list[str]:
        client = self.client("request")
        ids = []
        for _ in range(count):
            self._serial += 1
            response = await client.post(
                "/v1/requests",
                json=request_body(self._serial, reason="health" if urgent else "first_card", village_code=VILLAGE),
            )
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        return ids

    # -- printers -------------------------------------------------------------------------------------

    async def printer(self, name: str, serials: str, **options: Any) -> EmulatorProcess:
        """An emulator process (``ektp emulator``); options are its command-line flags (time_scale=600)."""
        settings: dict[str, Any] = {
            "speed": 120,
            "time_scale": "inf",
            "serials": serials,
            "ribbon": 2000,
            "output_capacity": 2000,
        }
        emulator = EmulatorProcess(name, self.tmp / f"emu-{name}", **(settings | options))
        await emulator.start()
        self.exits.push_async_callback(emulator.stop)
        self.emulators[name] = emulator
        return emulator

    async def commission(self, name: str) -> str:
        """Register the printer (an admin), commission it (an operator) and wait until it is ready."""
        gateway = self.client("gateway")
        url = self.emulators[name].url
        response = await self.client("gateway", "admin").post("/v1/printers", json={"name": name, "url": url})
        assert response.status_code == 201, response.text
        printer_id: str = response.json()["id"]
        assert (await gateway.post(f"/v1/printers/{printer_id}/commission")).status_code == 202
        await self.wait_printer(printer_id, "ready")
        self.printer_ids[name] = printer_id
        return printer_id

    async def printer_view(self, printer_id: str) -> dict[str, Any]:
        body: dict[str, Any] = (await self.client("gateway").get(f"/v1/printers/{printer_id}")).json()
        return body

    async def wait_printer(self, printer_id: str, state: str, *, timeout: float = 20.0) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        async def reached() -> bool:
            try:
                seen.update(await self.printer_view(printer_id))
            except httpx.TransportError:
                return False
            return seen.get("state") == state

        await wait_for(
            reached, timeout=timeout, what=f"printer {state} (last {seen.get('state')} {seen.get('reasons')})"
        )
        return seen

    # -- outcomes -------------------------------------------------------------------------------------

    async def request(self, request_id: str) -> dict[str, Any]:
        body: dict[str, Any] = (await self.client("request").get(f"/v1/requests/{request_id}")).json()
        return body

    async def count(self, status: str) -> int:
        page = (await self.client("request").get("/v1/requests", params={"status": status, "limit": 1})).json()
        return int(page["total"])

    async def statuses(self, request_ids: Iterable[str]) -> Counter[str]:
        seen: Counter[str] = Counter()
        for request_id in request_ids:
            seen[(await self.request(request_id))["status"]] += 1
        return seen

    async def wait_count(self, status: str, expected: int, *, timeout: float = 60.0) -> None:
        async def reached() -> bool:
            return await self.count(status) >= expected

        await wait_for(reached, timeout=timeout, interval=0.1, what=f"{expected} requests {status}")

    async def card_logs(self) -> list[dict[str, Any]]:
        return [card for emulator in self.emulators.values() for card in await emulator.card_log()]

    async def printed_cards(self) -> list[dict[str, Any]]:
        """Every card that reached an output hopper for a job (test cards left out), from the card logs."""
        return [card for card in await self.card_logs() if card["outcome"] == "printed" and not card["test"]]

    async def jobs(self, **filters: Any) -> list[dict[str, Any]]:
        gateway = self.client("gateway")
        # Idle claims come and go (a job row each): read everything, newest first, in pages of 500, and key
        # by id so a shifted page repeats rather than loses.
        items: dict[str, dict[str, Any]] = {}
        offset = 0
        while True:
            page = (await gateway.get("/v1/jobs", params={**filters, "limit": 500, "offset": offset})).json()
            items.update((job["id"], job) for job in page["items"])
            offset += 450
            if offset >= page["total"]:
                return list(items.values())

    async def waiting_at(self, step: str, *, what: str, timeout: float = 20.0) -> list[dict[str, Any]]:
        """Wait until jobs sit at ``step`` and no card is in a printer (none at sent or printing); return them."""
        waiting: list[dict[str, Any]] = []

        async def settled() -> bool:
            waiting[:] = await self.jobs(status="active", step=step)
            busy = [job for job in await self.jobs(status="active") if job["step"] in ("sent", "printing")]
            return bool(waiting) and not busy

        await wait_for(settled, timeout=timeout, what=what)
        return waiting

    async def assert_unchanged(self, reading: Callable[[], Awaitable[object]], *, seconds: float = 1.0) -> None:
        """An observation window: ``reading`` gives the same answer, every 0.1 s for ``seconds``."""
        first = await reading()
        for _ in range(round(seconds / 0.1)):
            await asyncio.sleep(0.1)
            assert await reading() == first

    async def invariant(self) -> dict[str, Any]:
        body: dict[str, Any] = (await self.client("inventory").get("/v1/stock/invariant")).json()
        return body

    async def assert_exactly_once(self, request_ids: list[str]) -> None:
        """Each request printed once: one card in the output hoppers for it, the serial the services record."""
        cards = await self.printed_cards()
        jobs = {job["id"]: job for job in await self.jobs()}
        per_request = Counter(jobs[card["job"]]["request_id"] for card in cards)
        duplicates = {r: n for r, n in per_request.items() if n > 1}
        assert not duplicates, f"printed more than once: {duplicates}"
        missing = set(request_ids) - set(per_request)
        assert not missing, f"never printed: {sorted(missing)[:5]} … ({len(missing)})"
        serial_of = {jobs[card["job"]]["request_id"]: card["serial"] for card in cards}
        for request_id in request_ids:
            body = await self.request(request_id)
            assert body["status"] == "printed"
            assert body["card_serial"] == serial_of[request_id]

    async def assert_blanks_reconciled(self) -> dict[str, Any]:
        """The ledger holds, nothing stays reserved, and every blank that left a hopper is accounted for."""
        invariant = await self.invariant()
        assert invariant["holds"], invariant
        logs = await self.card_logs()
        printed = [c for c in logs if c["outcome"] == "printed" and not c["test"]]
        used_otherwise = [c for c in logs if c["outcome"] != "printed" or c["test"]]
        assert invariant["consumed"] == len(printed), (invariant, len(printed))
        assert invariant["spoiled"] == len(used_otherwise), (invariant, used_otherwise)
        return invariant


@asynccontextmanager
async def office(tmp: Path, keys: KeyPair, templates: Templates) -> AsyncIterator[ProcessStack]:
    async with AsyncExitStack() as exits, office_stack(tmp, keys, templates) as stack:
        yield ProcessStack(stack, exits, tmp)
