"""The stock-out forecast and the reorder arithmetic, as the figures and the sentence an office reads."""

from __future__ import annotations

import pytest

from services.inventory.config import Settings
from services.inventory.reorder.service import Rate, project


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
