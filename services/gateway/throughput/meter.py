"""``ThroughputMeter``: when each printer finished its recent cards, and the rate that makes.

The rate over a window is (cards − 1) ÷ (last − first): the time between the first and the last card of the
window holds cards − 1 print cycles. Fewer than two cards in the window: no measurement (None).
"""

from __future__ import annotations

import time
from collections import deque

__all__ = ["ThroughputMeter"]


class ThroughputMeter:
    def __init__(self, window_seconds: float = 3600.0) -> None:
        self.window = window_seconds
        self._done: dict[str, deque[float]] = {}

    def card_done(self, printer_id: str, at: float | None = None) -> float | None:
        """Record a card out of ``printer_id``; return its cards/hour now."""
        done = self._done.setdefault(printer_id, deque())
        done.append(time.monotonic() if at is None else at)
        return self.cards_per_hour(printer_id, now=done[-1])

    def cards_per_hour(self, printer_id: str, *, now: float | None = None) -> float | None:
        done = self._done.get(printer_id)
        if not done:
            return None
        now = time.monotonic() if now is None else now
        while done and done[0] < now - self.window:
            done.popleft()
        if len(done) < 2 or done[-1] <= done[0]:
            return None
        return (len(done) - 1) / (done[-1] - done[0]) * 3600.0

    def forget(self, printer_id: str) -> None:
        self._done.pop(printer_id, None)
