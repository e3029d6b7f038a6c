"""Measured cards per hour: from the cards of the sliding window."""

from __future__ import annotations

import pytest

from services.gateway.throughput import ThroughputMeter


def test_a_printer_making_a_card_every_30_seconds_makes_120_an_hour() -> None:
    meter = ThroughputMeter(window_seconds=3600)
    rates = [meter.card_done("p1", at=1000.0 + 30 * n) for n in range(5)]
    assert rates[0] is None  # one card says nothing about speed
    assert rates[-1] == pytest.approx(120.0)


def test_cards_older_than_the_window_are_forgotten() -> None:
    meter = ThroughputMeter(window_seconds=100)
    for n in range(5):
        meter.card_done("p1", at=float(n * 10))  # fast, long ago
    for n in range(3):
        meter.card_done("p1", at=1000.0 + n * 60)  # slow now
    assert meter.cards_per_hour("p1", now=1120.0) == pytest.approx(60.0)
    assert meter.cards_per_hour("p2") is None
