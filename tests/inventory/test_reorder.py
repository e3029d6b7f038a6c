"""Reorder: the proposal drafted at the reorder point (once), its states, tranches against it, the forecast."""

from __future__ import annotations

import datetime as dt

import httpx
from fastapi import FastAPI

from tests.inventory.conftest import Inventory, StartInventory

# rate = used / 10 days; reorder point = rate x (5 + 5) days = the blanks used so far.
REORDER = {
    "reorder_window_days": 10,
    "reorder_lead_time_days": 5,
    "reorder_safety_days": 5,
    "reorder_min_quantity": 500,
}


async def _print_cards(inv: Inventory, first: int, last: int) -> None:
    for n in range(first, last + 1):
        assert (await inv.reserve(f"job_{n}")).status_code == 201
        assert (await inv.consume(f"job_{n}", f"KTP{n:08d}")).status_code == 200


async def _proposals(inv: Inventory) -> list[dict[str, object]]:
    return list((await inv.operator.get("/v1/proposals")).json()["items"])


async def test_a_proposal_is_drafted_once_when_stock_reaches_the_reorder_point(start_inventory: StartInventory) -> None:
    async with start_inventory(**REORDER) as inv:
        await inv.receive("TR-1", "KTP00000001", "KTP00000100")
        await _print_cards(inv, 1, 49)  # 51 available, point 49
        assert await _proposals(inv) == []

        await _print_cards(inv, 50, 50)  # 50 available, point 50: crossed

        proposals = await _proposals(inv)
        assert len(proposals) == 1
        proposal = proposals[0]
        assert (proposal["state"], proposal["automatic"], proposal["quantity"]) == ("draft", True, 500)
        assert proposal["basis"]["reorder_point"] == 50
        assert proposal["basis"]["available"] == 50
        await _print_cards(inv, 51, 55)
        assert len(await _proposals(inv)) == 1  # once, while it is open
        audit = (await inv.admin.get("/v1/audit", params={"action": "proposal.drafted"})).json()
        assert audit["total"] == 1


async def test_a_proposal_moves_draft_submitted_approved_shipped_closed(inv: Inventory) -> None:
    proposal = (await inv.operator.post("/v1/proposals", json={"quantity": 8016})).json()
    pid = proposal["id"]
    early = await inv.operator.post(
        "/v1/tranches",
        json={
            "reference": "T-early",
            "proposal_id": pid,
            "received_on": "2026-11-20",
            "received_by": "Siti",
            "ranges": [{"first": "KTP00000001", "last": "KTP00000002"}],
        },
    )
    assert early.status_code == 409
    assert early.json()["type"].endswith("/proposal-not-approved")
    assert (await inv.operator.post(f"/v1/proposals/{pid}/approve")).status_code == 403
    skip = await inv.admin.post(f"/v1/proposals/{pid}/approve")
    assert skip.status_code == 409
    assert skip.json()["type"].endswith("/proposal-draft")
    assert (await inv.operator.post(f"/v1/proposals/{pid}/submit")).json()["state"] == "submitted"
    assert (await inv.admin.post(f"/v1/proposals/{pid}/approve")).json()["state"] == "approved"

    await inv.receive("T-1", "KTP00000001", "KTP00000004", proposal_id=pid)
    assert (await inv.operator.get(f"/v1/proposals/{pid}")).json()["state"] == "shipped"
    await inv.receive("T-2", "KTP00000005", "KTP00000008", proposal_id=pid)  # one proposal, several tranches
    assert (await inv.operator.post(f"/v1/proposals/{pid}/close")).json()["state"] == "closed"
    assert (await inv.stock())["received"] == 8


def _request_service(queued: int) -> FastAPI:
    """A stand-in for the request service's ``GET /v1/queue/stats`` (the real one is another team's app)."""
    app = FastAPI()

    @app.get("/v1/queue/stats")
    async def stats() -> dict[str, int]:
        return {
            "queued": queued,
            "urgent_queued": 1,
            "regular_queued": queued - 1,
            "printing": 0,
            "needs_review": 0,
            "printed_today": 0,
            "daily_capacity": 100,
        }

    return app


async def test_the_forecast_gives_rate_days_of_cover_and_the_backlog(start_inventory: StartInventory) -> None:
    transport = httpx.ASGITransport(app=_request_service(queued=30))
    async with start_inventory(request_transport=transport, **REORDER) as inv:
        await inv.receive("TR-1", "KTP00000001", "KTP00000100")
        await _print_cards(inv, 1, 20)

        forecast = (await inv.operator.get("/v1/forecast")).json()

        assert forecast["rate_per_day"] == 2.0
        assert forecast["available"] == 80
        assert forecast["days_of_cover"] == 40.0
        expected = (dt.datetime.now(dt.UTC) + dt.timedelta(days=40)).date().isoformat()
        assert forecast["projected_stock_out_on"] == expected
        assert (forecast["backlog"], forecast["backlog_covered"], forecast["backlog_note"]) == (30, True, None)
        assert forecast["reorder_point"] == 20


async def test_the_forecast_degrades_when_the_request_service_does_not_answer(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000010")
    forecast = await inv.service.get("/v1/forecast")
    assert forecast.status_code == 200
    body = forecast.json()
    assert (body["backlog"], body["backlog_covered"]) == (None, None)
    assert body["backlog_note"].startswith("backlog unknown")
    assert (body["rate_per_day"], body["days_of_cover"], body["projected_stock_out_on"]) == (0.0, None, None)


async def test_the_forecast_degrades_when_the_request_service_refuses_or_fails(start_inventory: StartInventory) -> None:
    broken = FastAPI()

    @broken.get("/v1/queue/stats")
    async def stats() -> dict[str, str]:
        return {"queued": "many"}

    async with start_inventory(request_transport=httpx.ASGITransport(app=broken)) as inv:
        body = (await inv.operator.get("/v1/forecast")).json()
        assert body["backlog"] is None
        assert "not readable" in body["backlog_note"]
