"""Honest print dates: the fleet's capacity counted once, working days and office hours in WIB, holidays skipped."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import httpx

from tests.factories import request_body
from tests.request.conftest import InProcessRequestService

WIB = dt.timezone(dt.timedelta(hours=7))


def at(office: InProcessRequestService, when: dt.datetime) -> None:
    office.app.state.context.clock = lambda: when.astimezone(dt.UTC)


async def queue_dates(office: InProcessRequestService, count: int) -> list[dt.date]:
    """Submit ``count`` walk-in requests and read each one's estimated print date, in queue order."""
    operator = office.as_("operator")
    dates = []
    for serial in range(1, count + 1):
        created = await operator.post("/v1/requests", json=request_body(serial))
        assert created.status_code == 201, created.text
    for request in (await operator.get("/v1/requests", params={"status": "queued", "limit": 100})).json()["items"]:
        view = (await operator.get(f"/v1/requests/{request['id']}/queue")).json()
        dates.append((view["position"], dt.date.fromisoformat(view["estimated_print_date"])))
    return [date for _, date in sorted(dates)]


async def set_capacity(gateway: httpx.AsyncClient, cards_per_hour: float, printers: int) -> httpx.Response:
    response = await gateway.put("/v1/queue/capacity", json={"cards_per_hour": cards_per_hour, "printers": printers})
    assert response.status_code == 200, response.text
    return response


async def test_the_fleets_cards_an_hour_are_its_total_and_not_multiplied_by_its_printers(
    office: InProcessRequestService,
) -> None:
    gateway = office.as_("service")
    published = await set_capacity(gateway, 100, 2)  # two printers making 100 cards an hour between them
    assert published.json() == {"cards_per_hour": 100, "printers": 2, "daily_capacity": 800}  # 8 office hours
    assert (await gateway.get("/v1/queue/stats")).json()["daily_capacity"] == 800


async def test_a_queue_position_that_lands_on_independence_day_is_printed_the_next_working_day(
    office: InProcessRequestService,
) -> None:
    # Friday 14 August 2026, 08:00 WIB; one card an hour (8 a working day). Monday 17 August is a public holiday.
    at(office, dt.datetime(2026, 8, 14, 8, 0, tzinfo=WIB))
    await set_capacity(office.as_("service"), 1, 1)
    dates = await queue_dates(office, 10)
    friday, tuesday = dt.date(2026, 8, 14), dt.date(2026, 8, 18)
    assert dates == [friday] * 8 + [tuesday] * 2  # not Saturday, Sunday or 17 August


async def test_the_weekend_is_skipped(office: InProcessRequestService) -> None:
    # Friday 7 August 2026, 14:00 WIB: two office hours left today at two cards an hour.
    at(office, dt.datetime(2026, 8, 7, 14, 0, tzinfo=WIB))
    await set_capacity(office.as_("service"), 2, 1)
    dates = await queue_dates(office, 6)
    assert dates == [dt.date(2026, 8, 7)] * 4 + [dt.date(2026, 8, 10)] * 2  # Monday after


async def test_at_23_30_utc_the_estimated_date_is_already_the_next_day_in_wib(office: InProcessRequestService) -> None:
    # Monday 10 August 2026, 23:30 UTC = Tuesday 11 August, 06:30 WIB: before opening, the first card goes today.
    at(office, dt.datetime(2026, 8, 10, 23, 30, tzinfo=dt.UTC))
    assert await queue_dates(office, 1) == [dt.date(2026, 8, 11)]


async def test_after_closing_time_the_first_card_is_printed_the_next_working_day(
    office: InProcessRequestService,
) -> None:
    at(office, dt.datetime(2026, 8, 11, 16, 30, tzinfo=WIB))  # Tuesday, after 16:00
    assert await queue_dates(office, 1) == [dt.date(2026, 8, 12)]


async def test_extra_closed_dates_and_office_hours_come_from_the_settings(open_office: Callable[..., Any]) -> None:
    # A seven-hour day (08:00-15:00) and the office closed on Wednesday 12 August for a local event.
    async with open_office(office_closes=dt.time(15, 0), office_closed_dates=[dt.date(2026, 8, 12)]) as office:
        at(office, dt.datetime(2026, 8, 11, 8, 0, tzinfo=WIB))
        published = await set_capacity(office.as_("service"), 1, 1)
        assert published.json()["daily_capacity"] == 7
        dates = await queue_dates(office, 8)
        assert dates == [dt.date(2026, 8, 11)] * 7 + [dt.date(2026, 8, 13)]
