"""``QueueSignal``: wakes the claims that wait for work (long polling) when a request may have become claimable.

A change that queues a request calls ``ServiceContext.queued(session)``; once its transaction commits, every
waiting claim tries again. The signal lives in this process only; a waiting claim also tries again every
``claim_recheck_seconds``, so a request queued by another process of the service is found too.
"""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["QueueSignal"]


class QueueSignal:
    def __init__(self) -> None:
        self._event = asyncio.Event()
        self.waiting = 0  # claims waiting now (the queue's stats show it)
        self.closed = False  # the service is stopping: claims no longer wait

    def notify(self) -> None:
        """Wake every claim waiting now; later waiters wait for the next notice."""
        self._event.set()
        self._event = asyncio.Event()

    def close(self) -> None:
        """The service is stopping: wake every waiting claim, and let none wait from now on."""
        self.closed = True
        self.notify()

    def current(self) -> asyncio.Event:
        """The notice to wait for: take it *before* looking at the queue, so a change in between is not missed."""
        return self._event

    @staticmethod
    async def wait(notice: asyncio.Event, within: float) -> bool:
        """True if the notice came within ``within`` seconds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):  # not wait_for: on 3.11 it can swallow a cancellation (gh-86296)
                await notice.wait()
        return notice.is_set()
