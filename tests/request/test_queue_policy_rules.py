"""The queue policy's key, checked as numbers: the order of the queue is nothing but these keys."""

from __future__ import annotations

import datetime as dt

from services.request.config import Settings
from services.request.queue.policy import QueuePolicy

NOON = dt.datetime(2026, 3, 2, 12, 0, 0, 123_000, tzinfo=dt.UTC)
NOON_MS = 1_772_452_800_123


def test_a_regular_request_is_keyed_at_the_millisecond_it_was_queued() -> None:
    policy = QueuePolicy(urgent_head_start_ms=5_000, spacing_ms=1_000)

    assert policy.base_key(urgent=False, now=NOON) == NOON_MS


def test_an_urgent_request_is_keyed_exactly_the_head_start_earlier_than_a_regular_one_queued_with_it() -> None:
    policy = QueuePolicy(urgent_head_start_ms=5_000, spacing_ms=1_000)

    assert policy.base_key(urgent=True, now=NOON) == NOON_MS - 5_000


def test_a_regular_request_that_waited_longer_than_the_head_start_stays_ahead_of_a_new_urgent_one() -> None:
    policy = QueuePolicy.from_settings(Settings(urgent_head_start_hours=1))
    regular = policy.base_key(urgent=False, now=NOON)
    urgent_just_before_the_hour = policy.base_key(urgent=True, now=NOON + dt.timedelta(minutes=59))
    urgent_after_the_hour = policy.base_key(urgent=True, now=NOON + dt.timedelta(minutes=61))

    assert urgent_just_before_the_hour < regular < urgent_after_the_hour


def test_the_head_start_in_hours_and_the_spacing_in_seconds_become_milliseconds() -> None:
    policy = QueuePolicy.from_settings(Settings(urgent_head_start_hours=1.5, fair_spacing_seconds=216.4))

    assert policy == QueuePolicy(urgent_head_start_ms=5_400_000, spacing_ms=216_400)


def test_the_default_settings_give_urgent_work_thirty_days_and_space_a_lane_216_seconds() -> None:
    policy = QueuePolicy.from_settings(Settings())

    assert policy.urgent_head_start_ms == 30 * 24 * 3_600_000
    assert policy.spacing_ms == 216_000
