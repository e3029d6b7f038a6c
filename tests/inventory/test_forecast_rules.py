"""The stock-out forecast and the reorder arithmetic, as the figures and the sentence an office reads."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.common.models import utcnow
from services.inventory.config import Settings
from services.inventory.reorder.service import Rate, project
from services.inventory.reservations.service import expire_overdue
from tests.inventory.conftest import Inventory, StartInventory


def test_without_a_blank_the_queue_waits_for_a_delivery() -> None:
    projection = project(0, 2.0, 5, 10)

    assert (projection.days, projection.shortfall, projection.days_to_clear_backlog) == (0.0, 5, 0.5)
    assert projection.basis == "empty"
    assert projection.note == "no blank is available: the 5 queued cards wait for a delivery"


def test_an_oversold_stock_counts_as_none_and_an_unknown_backlog_leaves_the_shortfall_unknown() -> None:
    projection = project(-3, 2.0, None, None)

    assert (projection.days, projection.shortfall, projection.days_to_clear_backlog) == (0.0, None, None)
    assert projection.note == "no blank is available"


def test_a_queue_longer_than_the_stock_uses_it_up_at_the_printers_speed_and_says_how_many_cards_are_short() -> None:
    projection = project(100, 2.0, 150, 40)

    assert (projection.days, projection.shortfall, projection.days_to_clear_backlog) == (2.5, 50, 3.75)
    assert projection.basis == "backlog"
    assert (
        projection.note
        == "the 150 queued cards use up the 100 available blanks in 2.50 days at 40 a day, 50 cards short"
    )


def test_a_queue_exactly_as_long_as_the_stock_uses_it_up_with_no_card_short() -> None:
    projection = project(80, 4.0, 80, None)

    assert (projection.days, projection.shortfall) == (20.0, 0)
    assert projection.note == "the 80 queued cards use up the 80 available blanks in 20 days at 4 a day"


def test_the_printers_go_as_fast_as_the_measured_rate_when_it_beats_the_reported_capacity() -> None:
    assert project(100, 50.0, 200, 10).days == 2.0


def test_a_queue_beyond_the_stock_with_no_speed_known_has_no_stock_out_date() -> None:
    projection = project(10, 0.0, 25, 0)

    assert (projection.days, projection.shortfall, projection.days_to_clear_backlog) == (None, 15, None)
    assert projection.basis == "unknown"
    assert projection.note == (
        "the 25 queued cards need 15 blanks more than the 10 available; when they run out is unknown "
        "(no consumption measured and no printing capacity reported)"
    )


def test_a_covered_queue_with_nothing_used_in_the_window_has_no_stock_out_in_sight() -> None:
    projection = project(100, 0.0, 30, 10)

    assert (projection.days, projection.shortfall, projection.days_to_clear_backlog) == (None, 0, 3.0)
    assert projection.basis == "no_demand"
    assert projection.note == (
        "the 30 queued cards are covered, leaving 70 blanks; no stock-out in sight: nothing was used in the window"
    )
    assert project(100, 0.0, 0, None).note == "no stock-out in sight: nothing was used in the window"


def test_a_covered_queue_is_printed_first_and_the_rest_lasts_at_the_measured_rate() -> None:
    projection = project(100, 3.0, 40, 20)

    assert projection.days == pytest.approx(40 / 20 + 60 / 3)
    assert (projection.shortfall, projection.days_to_clear_backlog, projection.basis) == (0, 2.0, "backlog_then_rate")
    assert projection.note == (
        "the 40 queued cards are covered (printed in 2 days at 20 a day); "
        "the 60 blanks left then last 20 days at 3 a day"
    )


def test_with_no_queue_the_stock_lasts_at_the_measured_rate() -> None:
    projection = project(90, 4.0, 0, 20)

    assert (projection.days, projection.shortfall, projection.days_to_clear_backlog) == (22.5, 0, 0.0)
    assert projection.basis == "rate"
    assert projection.note == "the 90 available blanks last 22.50 days at 4 a day"


def test_with_an_unknown_queue_the_stock_lasts_at_the_measured_rate_and_the_note_says_the_queue_is_unknown() -> None:
    projection = project(90, 1.5, None, None)

    assert (projection.days, projection.shortfall, projection.days_to_clear_backlog) == (60.0, None, None)
    assert projection.note == "the 90 available blanks last 60 days at 1.50 a day (the backlog is unknown)"


def test_the_rate_is_blanks_used_a_day_over_the_window_and_the_reorder_point_covers_lead_time_and_safety() -> None:
    settings = Settings(reorder_window_days=10, reorder_lead_time_days=5, reorder_safety_days=2)
    rate = Rate(settings, used=25)

    assert (rate.window_days, rate.used, rate.per_day) == (10, 25, 2.5)
    assert rate.reorder_point == 18  # 2.5 a day over 7 days is 17.5: rounded up
    assert rate.demand(3) == 8


def test_the_deficit_at_delivery_is_the_queue_and_the_lead_times_use_less_the_stock_and_never_negative() -> None:
    settings = Settings(reorder_window_days=10, reorder_lead_time_days=5)
    rate = Rate(settings, used=20)  # 10 blanks over the lead time

    assert rate.deficit_at_delivery(4) == 6
    assert rate.deficit_at_delivery(4, backlog=30) == 36
    assert rate.deficit_at_delivery(-5) == 10  # an oversold stock counts as none
    assert rate.deficit_at_delivery(500) == 0


def test_a_proposal_asks_for_the_cover_days_plus_the_deficit_and_at_least_the_minimum() -> None:
    settings = Settings(reorder_window_days=10, reorder_lead_time_days=5, reorder_cover_days=30, reorder_min_quantity=1)
    rate = Rate(settings, used=20)

    assert rate.proposal_quantity(4) == 60 + 6
    assert rate.proposal_quantity(4, backlog=10) == 60 + 16
    big_minimum = Rate(settings.model_copy(update={"reorder_min_quantity": 67}), used=20)
    assert big_minimum.proposal_quantity(4) == 67


# GET /v1/forecast, read as an office reads it. The request service is not reachable here: the backlog is unknown.
# rate = used / 10 days; reorder point = the rate over 5 + 5 days = the blanks used so far.
TEN_DAY_WINDOW = {"reorder_window_days": 10, "reorder_lead_time_days": 5, "reorder_safety_days": 5}


async def _print_cards(inv: Inventory, count: int) -> None:
    await _print_cards_from(inv, 1, count)


async def _print_cards_from(inv: Inventory, first: int, last: int) -> None:
    for n in range(first, last + 1):
        assert (await inv.reserve(f"job_{n}")).status_code == 201
        assert (await inv.consume(f"job_{n}", f"KTP{n:08d}")).status_code == 200


async def _proposals(inv: Inventory) -> list[dict[str, Any]]:
    response = await inv.operator.get("/v1/proposals")
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def _forecast(inv: Inventory) -> dict[str, Any]:
    response = await inv.operator.get("/v1/forecast")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_the_forecast_counts_open_reservations_out_and_rounds_the_rate_to_4_places_and_the_cover_to_2(
    start_inventory: StartInventory,
) -> None:
    async with start_inventory(reorder_window_days=7, reorder_lead_time_days=5, reorder_safety_days=2) as inv:
        await inv.receive("TR-1", "KTP00000001", "KTP00000011")
        await _print_cards(inv, 3)  # 3 used in 7 days: 0.428571… a day
        assert (await inv.reserve("job_open")).status_code == 201

        body = await _forecast(inv)

        assert (body["available"], body["reserved"], body["used_in_window"]) == (7, 1, 3)
        assert body["rate_per_day"] == 0.4286
        assert body["days_of_cover"] == 16.33  # 7 blanks at 3/7 a day: 16.333… days
        assert (
            body["projection_note"] == "the 7 available blanks last 16.33 days at 0.43 a day (the backlog is unknown)"
        )
        assert (body["reorder_point"], body["below_reorder_point"]) == (3, False)
        assert body["open_proposal"] is None


async def test_a_stock_exactly_at_the_reorder_point_after_one_used_blank_is_below_it_and_shows_the_drafted_proposal(
    start_inventory: StartInventory,
) -> None:
    async with start_inventory(**TEN_DAY_WINDOW, reorder_min_quantity=1) as inv:
        await inv.receive("TR-1", "KTP00000001", "KTP00000002")
        await _print_cards(inv, 1)  # 1 left, reorder point 1: the automatic draft

        body = await _forecast(inv)

        assert (body["available"], body["used_in_window"], body["reorder_point"]) == (1, 1, 1)
        assert body["below_reorder_point"] is True
        # 60 days' cover at 0.1 a day; the lead time's 1 blank is in stock, and no queue is known: nothing more.
        assert body["suggested_quantity"] == 6
        proposal = body["open_proposal"]
        assert proposal is not None
        assert (proposal["state"], proposal["automatic"], proposal["quantity"]) == ("draft", True, 6)


async def test_an_automatic_draft_states_its_reasons_and_is_audited_under_its_own_id(
    start_inventory: StartInventory,
) -> None:
    async with start_inventory(**TEN_DAY_WINDOW, reorder_min_quantity=1) as inv:
        await inv.receive("TR-1", "KTP00000001", "KTP00000002")
        await _print_cards(inv, 1)

        [proposal] = await _proposals(inv)

        assert proposal["note"] == "drafted automatically: the available blanks reached the reorder point"
        assert proposal["basis"] == {
            "available": 1,
            "reserved": 0,
            "used_in_window": 1,
            "window_days": 10,
            "rate_per_day": 0.1,
            "reorder_point": 1,
            "lead_time_days": 5,
            "safety_days": 5,
            "cover_days": 60,
            "deficit_at_delivery": 0,
        }
        audit = (await inv.admin.get("/v1/audit", params={"action": "proposal.drafted"})).json()
        [entry] = audit["items"]
        assert (entry["object_type"], entry["object_id"]) == ("proposal", proposal["id"])
        assert entry["after"] == {"state": "draft", "quantity": 6}


async def test_a_queue_exactly_as_long_as_the_available_stock_is_covered(start_inventory: StartInventory) -> None:
    queue = FastAPI()

    @queue.get("/v1/queue/stats")
    async def stats() -> dict[str, int]:
        return {"queued": 3, "urgent_queued": 0, "printing": 0, "needs_review": 0, "printed_today": 0}

    async with start_inventory(request_transport=httpx.ASGITransport(app=queue)) as inv:
        await inv.receive("TR-1", "KTP00000001", "KTP00000003")

        body = await _forecast(inv)

        assert (body["available"], body["backlog"], body["shortfall"], body["backlog_covered"]) == (3, 3, 0, True)


async def test_a_stock_all_reserved_before_anything_is_used_is_empty_but_not_below_the_reorder_point(
    start_inventory: StartInventory,
) -> None:
    async with start_inventory(**TEN_DAY_WINDOW) as inv:
        await inv.receive("TR-1", "KTP00000001", "KTP00000001")
        assert (await inv.reserve("job_open")).status_code == 201

        body = await _forecast(inv)

        assert (body["available"], body["reserved"], body["used_in_window"], body["reorder_point"]) == (0, 1, 0, 0)
        assert (body["days_of_cover"], body["projection"]) == (0.0, "empty")
        assert body["below_reorder_point"] is False


async def test_a_stock_that_runs_out_the_day_a_delivery_ordered_today_arrives_is_not_called_too_late(
    start_inventory: StartInventory,
) -> None:
    async with start_inventory(**TEN_DAY_WINDOW) as inv:
        await inv.receive("TR-1", "KTP00000001", "KTP00000003")
        await _print_cards(inv, 2)  # 1 left at 0.2 a day: 5 days, the lead time

        body = await _forecast(inv)

        assert body["days_of_cover"] == 5.0
        assert body["projection_note"] == "the 1 available blanks last 5 days at 0.20 a day (the backlog is unknown)"


# The automatic draft: a proposal appears when a used blank brings the available stock to the reorder point.


async def test_open_reservations_count_against_the_stock_when_a_printed_card_brings_it_to_the_reorder_point(
    start_inventory: StartInventory,
) -> None:
    async with start_inventory(**TEN_DAY_WINDOW) as inv:
        await inv.receive("TR-1", "KTP00000001", "KTP00000010")
        for job in ("job_a", "job_b"):
            assert (await inv.reserve(job)).status_code == 201
        await _print_cards(inv, 3)  # 7 unused, 2 reserved: 5 available, reorder point 3
        assert await _proposals(inv) == []

        await _print_cards_from(inv, 4, 4)  # 6 unused, 2 reserved: 4 available, reorder point 4

        assert [(p["automatic"], p["basis"]["available"], p["basis"]["reserved"]) for p in await _proposals(inv)] == [
            (True, 4, 2)
        ]


async def test_a_card_printed_after_its_reservation_expired_counts_as_used_when_it_brings_the_stock_to_the_point(
    start_inventory: StartInventory,
) -> None:
    async with start_inventory(**TEN_DAY_WINDOW) as inv:
        await inv.receive("TR-1", "KTP00000001", "KTP00000004")
        await _print_cards(inv, 1)  # 3 available, reorder point 1
        assert (await inv.reserve("job_late")).status_code == 201
        async with inv.app.state.db.sessions() as session, session.begin():
            assert await expire_overdue(session, utcnow() + dt.timedelta(hours=1)) == ["job_late"]
        assert await _proposals(inv) == []

        assert (await inv.consume("job_late", "KTP00000002")).status_code == 200  # 2 available, point 2

        assert [
            (p["automatic"], p["basis"]["available"], p["basis"]["reorder_point"]) for p in await _proposals(inv)
        ] == [(True, 2, 2)]


async def test_a_blank_spoiled_on_the_shelf_that_brings_the_stock_to_the_reorder_point_drafts_a_proposal(
    start_inventory: StartInventory,
) -> None:
    async with start_inventory(**TEN_DAY_WINDOW) as inv:
        await inv.receive("TR-1", "KTP00000001", "KTP00000003")
        await _print_cards(inv, 1)  # 2 available, reorder point 1
        assert await _proposals(inv) == []

        spoiled = {"serial": "KTP00000003", "reason": "damaged", "witness": "Budi"}
        assert (await inv.operator.post("/v1/spoilage", json=spoiled)).status_code == 201  # 1 available, point 2

        assert [
            (p["automatic"], p["basis"]["available"], p["basis"]["used_in_window"]) for p in await _proposals(inv)
        ] == [(True, 1, 2)]


async def test_a_write_off_that_brings_the_stock_to_the_reorder_point_drafts_a_proposal(
    start_inventory: StartInventory,
) -> None:
    async with start_inventory(**TEN_DAY_WINDOW) as inv:
        await inv.receive("TR-1", "KTP00000001", "KTP00000003")
        await _print_cards(inv, 1)  # 2 available, reorder point 1
        assert await _proposals(inv) == []

        write_off = {"serial": "KTP00000003", "action": "write_off", "reason": "missing at stock take"}
        assert (await inv.admin.post("/v1/adjustments", json=write_off)).status_code == 201  # 1 available, point 1

        assert [
            (p["automatic"], p["basis"]["available"], p["basis"]["used_in_window"]) for p in await _proposals(inv)
        ] == [(True, 1, 1)]


# The sentences and figures of ``project`` with rates and speeds that are not whole numbers (rounded to 2 places).


def test_a_covered_queue_at_a_fractional_speed_is_described_to_two_decimal_places() -> None:
    projection = project(100, 7 / 3, 40, None)

    assert projection.days_to_clear_backlog == 17.14
    assert projection.note == (
        "the 40 queued cards are covered (printed in 17.14 days at 2.33 a day); "
        "the 60 blanks left then last 25.71 days at 2.33 a day"
    )


def test_a_queue_printed_within_minutes_is_said_to_take_0_days() -> None:
    projection = project(100, 2.0, 1, 1000)

    assert projection.days_to_clear_backlog == 0.0
    assert projection.note.startswith("the 1 queued cards are covered (printed in 0 days at 1000 a day); ")


def test_a_queue_longer_than_the_stock_at_a_fractional_speed_is_described_to_two_decimal_places() -> None:
    projection = project(10, 7 / 3, 20, None)

    assert (
        projection.note
        == "the 20 queued cards use up the 10 available blanks in 4.29 days at 2.33 a day, 10 cards short"
    )


def test_the_stock_lasting_at_a_fractional_rate_is_described_to_two_decimal_places() -> None:
    assert project(7, 3 / 7, 0, None).note == "the 7 available blanks last 16.33 days at 0.43 a day"


def test_less_than_one_blank_a_day_is_still_a_rate_and_a_speed() -> None:
    alone = project(100, 0.5, 0, None)
    assert (alone.days, alone.basis) == (200.0, "rate")

    covered = project(100, 0.5, 10, None)
    assert (covered.days, covered.days_to_clear_backlog, covered.basis) == (200.0, 20.0, "backlog_then_rate")

    short = project(10, 0.5, 20, None)
    assert (short.days, short.shortfall, short.basis) == (20.0, 10, "backlog")


def test_a_figure_within_half_a_hundredth_of_a_whole_number_is_written_as_the_whole_number() -> None:
    # 2.996 blanks a day is "3 a day", not "3.00"; 300 blanks at 100.13 a day last "3 days" (2.9961).
    assert project(300, 100.13, 0, None).note == "the 300 available blanks last 3 days at 100.13 a day"
    assert project(300, 2.996, 0, None).note == "the 300 available blanks last 100.13 days at 3 a day"
    assert project(30, 10.013, 40, None).note == (
        "the 40 queued cards use up the 30 available blanks in 3 days at 10.01 a day, 10 cards short"
    )
    assert project(10, 2.996, 20, None).note == (
        "the 20 queued cards use up the 10 available blanks in 3.34 days at 3 a day, 10 cards short"
    )
    assert project(49, 2.996, 40, None).note == (
        "the 40 queued cards are covered (printed in 13.35 days at 3 a day); "
        "the 9 blanks left then last 3 days at 3 a day"
    )
