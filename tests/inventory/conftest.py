"""Fixtures of the inventory's tests: a running app on a fresh migrated database (SQLite and PostgreSQL), one
client per role, and helpers that speak the HTTP contract. Every scenario ends by checking the invariant: the
service's ``GET /v1/stock/invariant`` must hold and report the balances counted independently in SQL."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from services.common.auth import KeyPair
from services.inventory.app import create_app
from services.inventory.config import Settings
from tests.support import running


class Inventory:
    """A running inventory app and a client per role, with the contract's calls as methods."""

    def __init__(self, app: FastAPI, client_for: Callable[..., httpx.AsyncClient], make_token: Callable[..., str]):
        self.app = app
        self.admin = client_for(app, make_token("admin", subject="admin-1"))
        self.operator = client_for(app, make_token("operator", subject="desk-1"))
        self.service = client_for(app, make_token("service", subject="gateway-1"))
        self.clerk = client_for(app, make_token("clerk", scope=["18.09.01"], subject="clerk-1"))
        self.partner = client_for(app, make_token("partner", subject="bank-1"))
        self.anonymous = client_for(app, None)
        self.by_role: dict[str, httpx.AsyncClient] = {
            "admin": self.admin,
            "operator": self.operator,
            "service": self.service,
            "clerk": self.clerk,
            "partner": self.partner,
        }

    async def aclose(self) -> None:
        for client in (*self.by_role.values(), self.anonymous):
            await client.aclose()

    async def receive(self, reference: str, first: str, last: str, **extra: Any) -> dict[str, Any]:
        body = {
            "reference": reference,
            "received_on": "2026-11-02",
            "ranges": [{"first": first, "last": last}],
            "received_by": "Siti (gudang)",
        } | extra
        response = await self.operator.post("/v1/tranches", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def reserve(self, job_id: str, *, urgent: bool = False, ttl: float = 600) -> httpx.Response:
        return await self.service.post(
            "/v1/reservations", json={"job_id": job_id, "urgent": urgent, "ttl_seconds": ttl}
        )

    async def consume(self, job_id: str, serial: str, *, request_id: str = "req-1") -> httpx.Response:
        return await self.service.post(
            f"/v1/reservations/{job_id}/consume",
            json={"serial": serial, "request_id": request_id, "printer_id": "printer-1"},
        )

    async def spoil(self, job_id: str, serial: str, reason: str = "failed_print") -> httpx.Response:
        return await self.service.post(
            f"/v1/reservations/{job_id}/spoil",
            json={"serial": serial, "reason": reason, "witness": "Budi", "printer_id": "printer-1"},
        )

    async def stock(self) -> dict[str, Any]:
        response = await self.operator.get("/v1/stock")
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def invariant(self) -> dict[str, Any]:
        """``GET /v1/stock/invariant``, checked to hold and to report the balances counted from the rows in SQL
        (``counted_in_sql``): the service's own sums and its own check are not taken on trust."""
        response = await self.operator.get("/v1/stock/invariant")
        assert response.status_code == 200, response.text
        body = dict(response.json())
        assert body["holds"], body["problems"]
        counted = await self.counted_in_sql()
        reported = {k: body[k] for k in ("received", "available", "reserved", "consumed", "spoiled", "written_off")}
        assert reported == counted, (reported, counted)
        stock = await self.stock()
        assert {k: stock[k] for k in counted} == counted, (stock, counted)
        return body

    async def counted_in_sql(self) -> dict[str, Any]:
        """The balances counted blank by blank, reservation by reservation and movement by movement in plain SQL,
        each one checked against every other record of it: the tranches' declared counts, the receipts, the
        per-serial ledger rows, the reservations, the running counters and the usage by day. Fails on any drift."""
        async with self.app.state.db.sessions() as session:

            async def rows(sql: str) -> dict[str, int]:
                return {str(k): int(v or 0) for k, v in (await session.execute(text(sql))).all()}

            async def number(sql: str) -> int:
                return int(await session.scalar(text(sql)) or 0)

            blanks = await rows("SELECT state, COUNT(*) FROM blanks GROUP BY state")
            reservations = await rows("SELECT status, COUNT(*) FROM reservations GROUP BY status")
            by_serial = await rows("SELECT kind, SUM(quantity) FROM movements WHERE serial IS NOT NULL GROUP BY kind")
            declared = await number("SELECT SUM(count) FROM tranches")
            receipts = await number("SELECT SUM(quantity) FROM movements WHERE kind = 'received'")
            written_off_moves = await number(
                "SELECT SUM(CASE WHEN to_state = 'written_off' THEN quantity ELSE -quantity END) FROM movements"
                " WHERE kind = 'adjustment' AND serial IS NOT NULL"
            )
            used_by_day = await number("SELECT SUM(used) FROM usage_days")
            unused_counter, reserved_counter = (
                await session.execute(text("SELECT unused, reserved FROM stock_lock"))
            ).one()

        received = sum(blanks.values())
        unused, consumed = blanks.get("available", 0), blanks.get("consumed", 0)
        spoiled, written_off = blanks.get("spoiled", 0), blanks.get("written_off", 0)
        open_reservations = reservations.get("reserved", 0) + reservations.get("held", 0)
        assert set(blanks) <= {"available", "consumed", "spoiled", "written_off"}, blanks
        assert received == declared == receipts, ("blanks, declared, receipts", received, declared, receipts)
        assert consumed == by_serial.get("consumed", 0) == reservations.get("consumed", 0), (
            "consumed blanks, consumed movements, consumed reservations",
            blanks,
            by_serial,
            reservations,
        )
        assert spoiled == by_serial.get("spoiled", 0) >= reservations.get("spoiled", 0), (
            "spoiled blanks, spoiled movements, spoiled reservations",
            blanks,
            by_serial,
            reservations,
        )
        assert written_off == written_off_moves, ("written-off blanks, adjustments", written_off, written_off_moves)
        assert used_by_day == consumed + spoiled, ("usage by day, used blanks", used_by_day, consumed + spoiled)
        assert (unused_counter, reserved_counter) == (unused, open_reservations), (
            "counters, blanks available, open reservations",
            (unused_counter, reserved_counter),
            unused,
            reservations,
        )
        assert open_reservations <= unused, ("oversold", open_reservations, unused)
        return {
            "received": received,
            "available": unused - open_reservations,
            "reserved": open_reservations,
            "consumed": consumed,
            "spoiled": spoiled,
            "written_off": written_off,
        }


StartInventory = Callable[..., contextlib.AbstractAsyncContextManager[Inventory]]


@pytest.fixture
def inventory_settings(migrated_db: Callable[[str], str], keys: KeyPair) -> Callable[..., Settings]:
    url: list[str] = []

    def make(**overrides: Any) -> Settings:
        if not url:
            url.append(migrated_db("inventory"))
        values: dict[str, Any] = {
            "database_url": url[0],
            "jwt_public_key": keys.public_pem.decode(),
            "urgent_reserve_count": 0,
            "start_sweeper": False,
            "request_url": "http://127.0.0.1:9",  # nothing listens: the backlog is unknown unless a test mounts one
            "peer_timeout_seconds": 0.5,
        } | overrides
        return Settings(**values)

    return make


@pytest.fixture
def start_inventory(
    inventory_settings: Callable[..., Settings],
    client_for: Callable[..., httpx.AsyncClient],
    make_token: Callable[..., str],
) -> StartInventory:
    """``async with start_inventory(urgent_reserve_count=2) as inv:`` — checks the invariant on the way out."""

    @contextlib.asynccontextmanager
    async def start(
        *, request_transport: httpx.AsyncBaseTransport | None = None, **overrides: Any
    ) -> AsyncIterator[Inventory]:
        app = create_app(inventory_settings(**overrides), request_transport=request_transport)
        async with running(app):
            inv = Inventory(app, client_for, make_token)
            try:
                yield inv
                await inv.invariant()
            finally:
                await inv.aclose()

    return start


@pytest.fixture
async def inv(start_inventory: StartInventory) -> AsyncIterator[Inventory]:
    async with start_inventory() as inventory:
        yield inventory
