"""Reorder: the proposal drafted at the reorder point (once), its states, tranches against it, the forecast."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.common.office_hours import OfficeCalendar
from services.inventory.config import Settings
from services.inventory.reorder.service import Projection, Rate, project
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


def _request_service(stats: dict[str, int]) -> FastAPI:
    """A stand-in for the request service's ``GET /v1/queue/stats`` (the real one is another team's app); it
    answers whatever ``stats`` holds at the time, so that a test can change the queue between two calls."""
    app = FastAPI()

    @app.get("/v1/queue/stats")
    async def queue_stats() -> dict[str, int]:
        return {"urgent_queued": 0, "printing": 0, "needs_review": 0, "printed_today": 0} | stats

    return app


CALENDAR = OfficeCalendar.from_settings(Settings())


async def _forecast(inv: Inventory) -> tuple[dict[str, Any], set[str]]:
    """The forecast, and the stock-out dates (WIB) its figures can give (the clock may move during the call):
    the queue's printing in working days and office hours, the rest in calendar days."""
    before = dt.datetime.now(dt.UTC)
    response = await inv.operator.get("/v1/forecast")
    after = dt.datetime.now(dt.UTC)
    assert response.status_code == 200, response.text
    body = dict(response.json())
    days = body["days_of_cover"]
    if days is None:
        return body, set()
    printing = {"backlog": days, "backlog_then_rate": body["days_to_clear_backlog"]}.get(body["projection"], 0.0)
    projection = Projection(days, None, None, body["projection"], "", printing_days=printing)
    return body, {str(projection.stock_out_on(CALENDAR, t)) for t in (before, after)}


async def test_the_backlog_is_spent_first_and_moves_the_stock_out_date(start_inventory: StartInventory) -> None:
    stats = {"queued": 0, "daily_capacity": 100}
    transport = httpx.ASGITransport(app=_request_service(stats))
    async with start_inventory(request_transport=transport, **REORDER | {"reorder_min_quantity": 1}) as inv:
        await inv.receive("TR-1", "KTP00000001", "KTP00000100")
        await _print_cards(inv, 1, 20)  # 80 available; 20 used in 10 days: 2 a day

        # Nothing queued: the plain available / rate.
        idle, dates = await _forecast(inv)
        assert (idle["rate_per_day"], idle["available"], idle["reorder_point"]) == (2.0, 80, 20)
        assert (idle["days_of_cover"], idle["projection"]) == (40.0, "rate")
        assert idle["projected_stock_out_on"] in dates
        assert (idle["backlog"], idle["backlog_covered"], idle["shortfall"], idle["daily_capacity"]) == (
            0,
            True,
            0,
            100,
        )
        # A proposal now: 60 days at 2 a day; the 5 days' lead time (10 blanks) are covered by the stock.
        assert idle["suggested_quantity"] == 120

        # 30 queued, fewer than the stock: covered. They go at the printers' 100 a day (0.3 days), then the 50
        # blanks left last 25 days at the rate: 25.3 days, not the 40 the rate alone would say.
        stats["queued"] = 30
        covered, dates = await _forecast(inv)
        assert (covered["backlog"], covered["backlog_covered"], covered["shortfall"]) == (30, True, 0)
        assert (covered["days_to_clear_backlog"], covered["days_of_cover"]) == (0.3, 25.3)
        assert covered["projection"] == "backlog_then_rate"
        assert covered["projected_stock_out_on"] in dates
        assert "30 queued cards are covered" in covered["projection_note"]
        assert covered["suggested_quantity"] == 120

        # 300 queued, more than the stock: 220 short, and the stock is gone within the day at 100 a day. The
        # suggestion covers the shortfall and the lead time's demand besides the 60 days: 120 + (300 + 10 - 80).
        stats["queued"] = 300
        short, dates = await _forecast(inv)
        assert (short["backlog"], short["backlog_covered"], short["shortfall"]) == (300, False, 220)
        assert (short["days_to_clear_backlog"], short["days_of_cover"], short["projection"]) == (3.0, 0.8, "backlog")
        assert short["projected_stock_out_on"] in dates
        assert "220 cards short" in short["projection_note"]
        assert "before a delivery ordered today arrives" in short["projection_note"]
        assert short["suggested_quantity"] == 350
        assert short["below_reorder_point"] is False  # the automatic draft reads the stock only


async def test_without_consumption_the_backlog_is_printed_at_the_printers_capacity(
    start_inventory: StartInventory,
) -> None:
    stats = {"queued": 150, "daily_capacity": 50}
    transport = httpx.ASGITransport(app=_request_service(stats))
    async with start_inventory(request_transport=transport, **REORDER | {"reorder_min_quantity": 1}) as inv:
        await inv.receive("TR-1", "KTP00000001", "KTP00000100")  # 100 available, nothing used yet

        body, dates = await _forecast(inv)
        assert (body["rate_per_day"], body["shortfall"], body["days_of_cover"]) == (0.0, 50, 2.0)
        assert (body["projection"], body["days_to_clear_backlog"]) == ("backlog", 3.0)
        assert body["projected_stock_out_on"] in dates
        assert body["suggested_quantity"] == 50  # no rate: just the shortfall

        # A queue the stock covers, and no consumption after it: no stock-out in sight.
        stats["queued"] = 40
        body, _ = await _forecast(inv)
        assert (body["shortfall"], body["backlog_covered"], body["projection"]) == (0, True, "no_demand")
        assert (body["days_of_cover"], body["projected_stock_out_on"]) == (None, None)

        # No capacity reported and no rate: the shortfall is known, the date is not.
        stats.clear()
        stats["queued"] = 150
        body, _ = await _forecast(inv)
        assert (body["daily_capacity"], body["shortfall"], body["projection"]) == (None, 50, "unknown")
        assert (body["days_of_cover"], body["projected_stock_out_on"], body["days_to_clear_backlog"]) == (
            None,
            None,
            None,
        )


@pytest.mark.parametrize(
    ("available", "per_day", "backlog", "capacity", "days", "shortfall", "basis"),
    [
        (80, 2.0, None, None, 40.0, None, "rate"),  # the request service did not answer
        (80, 2.0, 0, 100, 40.0, 0, "rate"),
        (80, 2.0, 30, 100, 25.3, 0, "backlog_then_rate"),
        (80, 2.0, 30, None, 40.0, 0, "backlog_then_rate"),  # no capacity: the queue goes at the rate
        (80, 2.0, 80, 100, 0.8, 0, "backlog"),  # exactly covered: gone when the queue is printed
        (80, 2.0, 300, 100, 0.8, 220, "backlog"),
        (80, 200.0, 300, 100, 0.4, 220, "backlog"),  # printing faster than the reported capacity
        (80, 0.0, 300, None, None, 220, "unknown"),
        (80, 0.0, 0, None, None, 0, "no_demand"),
        (0, 2.0, 5, 100, 0.0, 5, "empty"),
        (-1, 2.0, None, None, 0.0, None, "empty"),
    ],
)
def test_the_projection_arithmetic(
    available: int,
    per_day: float,
    backlog: int | None,
    capacity: int | None,
    days: float | None,
    shortfall: int | None,
    basis: str,
) -> None:
    projection = project(available, per_day, backlog, capacity)
    assert (None if projection.days is None else round(projection.days, 2), projection.shortfall) == (days, shortfall)
    assert projection.basis == basis


def test_a_proposal_covers_the_deficit_at_delivery_and_the_cover_days() -> None:
    settings = Settings(reorder_window_days=10, reorder_lead_time_days=5, reorder_cover_days=60, reorder_min_quantity=1)
    rate = Rate(settings, used=20)  # 2 a day; 10 blanks over the lead time; 120 over the cover days
    assert rate.proposal_quantity(available=80) == 120
    assert rate.proposal_quantity(available=4) == 126  # the stock runs out 3 days before the delivery
    assert rate.proposal_quantity(available=80, backlog=300) == 350
    assert Rate(settings.model_copy(update={"reorder_min_quantity": 500}), used=20).proposal_quantity(80) == 500
    thirty = Settings(reorder_window_days=30, reorder_lead_time_days=30, reorder_safety_days=0)
    assert Rate(thirty, used=7).reorder_point == 7  # integer arithmetic: 7 / 30 x 30 is not 7.000000000000001


async def test_the_forecast_degrades_when_the_request_service_does_not_answer(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000010")
    forecast = await inv.service.get("/v1/forecast")
    assert forecast.status_code == 200
    body = forecast.json()
    assert (body["backlog"], body["backlog_covered"]) == (None, None)
    assert body["backlog_note"].startswith("backlog unknown")
    assert (body["rate_per_day"], body["days_of_cover"], body["projected_stock_out_on"]) == (0.0, None, None)
    assert (body["shortfall"], body["daily_capacity"], body["projection"]) == (None, None, "no_demand")
    assert body["suggested_quantity"] == 1000  # the minimum: nothing used, no backlog known


async def test_the_forecast_degrades_when_the_request_service_refuses_or_fails(start_inventory: StartInventory) -> None:
    broken = FastAPI()

    @broken.get("/v1/queue/stats")
    async def stats() -> dict[str, str]:
        return {"queued": "many"}

    async with start_inventory(request_transport=httpx.ASGITransport(app=broken)) as inv:
        body = (await inv.operator.get("/v1/forecast")).json()
        assert body["backlog"] is None
        assert "not readable" in body["backlog_note"]


WIB = dt.timezone(dt.timedelta(hours=7))


def test_the_stock_out_date_counts_the_queues_printing_in_working_days_and_hours_in_wib() -> None:
    # 80 blanks, 300 queued, printed at 100 a working day: gone after 0.8 of a day's printing (6.4 office hours).
    projection = project(80, 2.0, 300, 100)
    assert projection.printing_days == pytest.approx(0.8)
    # Friday 14 August 2026, 15:00 WIB: one office hour left, then the weekend and Independence Day (Monday 17).
    friday_afternoon = dt.datetime(2026, 8, 14, 15, 0, tzinfo=WIB)
    assert projection.stock_out_on(CALENDAR, friday_afternoon) == dt.date(2026, 8, 18)
    # The same at 08:00 on a plain Tuesday: within the day.
    assert projection.stock_out_on(CALENDAR, dt.datetime(2026, 8, 11, 8, 0, tzinfo=WIB)) == dt.date(2026, 8, 11)
    # The queue is covered (30 of 80): 0.3 working days' printing, then 25 calendar days at the rate.
    covered = project(80, 2.0, 30, 100)
    assert covered.stock_out_on(CALENDAR, friday_afternoon) == dt.date(2026, 8, 18) + dt.timedelta(days=25)


def test_the_stock_out_date_is_the_office_date_in_wib() -> None:
    # 40 days at the rate from 23:30 UTC on 10 August = 06:30 WIB on 11 August.
    projection = project(80, 2.0, 0, 100)
    late = dt.datetime(2026, 8, 10, 23, 30, tzinfo=dt.UTC)
    assert projection.stock_out_on(CALENDAR, late) == dt.date(2026, 9, 20)
    assert (late + dt.timedelta(days=40)).date() == dt.date(2026, 9, 19)  # what a UTC date would have said
