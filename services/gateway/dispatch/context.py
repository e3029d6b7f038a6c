"""``Gateway``: what the background work shares — database, journal, peer clients, settings, meter — and
``keep_trying``, how it retries an idempotent step after an unexpected error, and ``cancel_and_wait``, how
background work is stopped."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from services.common.db import Database
from services.gateway.clients import InventoryClient, RequestClient
from services.gateway.config import Settings
from services.gateway.fleet.service import FleetStore
from services.gateway.journal.service import Journal
from services.gateway.throughput import ThroughputMeter

__all__ = ["Gateway", "cancel_and_wait", "keep_trying"]

log = logging.getLogger(__name__)


@dataclass
class Gateway:
    settings: Settings
    db: Database
    requests: RequestClient
    inventory: InventoryClient
    journal: Journal = field(init=False)
    fleet: FleetStore = field(init=False)
    meter: ThroughputMeter = field(init=False)

    def __post_init__(self) -> None:
        self.journal = Journal(self.db)
        self.fleet = FleetStore(self.db)
        self.meter = ThroughputMeter(self.settings.throughput_window_seconds)


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], *, again_every: float = 1.0) -> None:
    """Cancel ``tasks`` and wait until each has ended, cancelling again while one has not.

    A task can swallow one cancellation (Python 3.11's ``wait_for``, gh-86296; a library's ``except``); waiting
    on it once would then hang a stopping gateway for ever."""
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=again_every)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.warning("task %s ended with %r while stopping", task.get_name(), task.exception())


async def keep_trying(
    step: Callable[[], Awaitable[None]],
    *,
    what: str,
    wait: float,
    attempts: int | None = None,
    extra: dict[str, Any] | None = None,
) -> bool:
    """Run an idempotent ``step`` until it succeeds (True), waiting ``wait`` seconds after each failure.

    False after ``attempts`` failures, or once the task is being cancelled (a cancellation that something below
    swallowed): a stopping gateway does not start the step again. A peer killed mid-call can make httpx raise
    something other than a transport error, so any exception counts as a failure here.
    """
    task = asyncio.current_task()
    attempt = 0
    while True:
        attempt += 1
        try:
            await step()
            return True
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s failed (attempt %d)", what, attempt, extra=extra)
            if (task is not None and task.cancelling()) or (attempts is not None and attempt >= attempts):
                return False
            await asyncio.sleep(wait)
