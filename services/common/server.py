"""``serve(app, host=…, port=…)``: uvicorn as ``ektp serve`` runs it.

Two departures from ``uvicorn.run``: the server's housekeeping loop wakes once a second instead of ten times
(three idle services and their printers are meant to use well under 1 % of a core), and a shutdown gives the
calls still open at most ``graceful_shutdown_seconds`` (a claim may be waiting for work: long polling).
The Date header is still refreshed every second, and SIGTERM/SIGINT wake the loop at once and run the app's
``app.state.exit_hooks`` (the request service lets its waiting claims answer), before open calls are waited for.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from types import FrameType
from typing import Any

import uvicorn

__all__ = ["GRACEFUL_SHUTDOWN_SECONDS", "QuietServer", "serve"]

GRACEFUL_SHUTDOWN_SECONDS = 10
TICK_SECONDS = 1.0
# uvicorn's on_tick refreshes the Date header when its counter is a multiple of 10 (one tick = 0.1 s there).
_TICKS_PER_SECOND = 10


class QuietServer(uvicorn.Server):
    """uvicorn's server with a once-a-second housekeeping loop; on SIGTERM it runs ``app.state.exit_hooks``."""

    _wake: Callable[[], None] | None = None

    async def main_loop(self) -> None:
        woken = asyncio.Event()
        loop = asyncio.get_running_loop()
        hooks: list[Callable[[], None]] = list(getattr(getattr(self.config.app, "state", None), "exit_hooks", []))

        def exiting() -> None:
            woken.set()
            for hook in hooks:
                hook()

        def wake() -> None:  # from the signal handler: hand over to the event loop
            loop.call_soon_threadsafe(exiting)

        self._wake = wake
        counter = 0
        while not await self.on_tick(counter):
            counter = (counter + _TICKS_PER_SECOND) % 864_000
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TICK_SECONDS):  # not wait_for: see services/gateway/dispatch/worker.py
                    await woken.wait()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        super().handle_exit(sig, frame)
        if self._wake is not None:
            self._wake()


def serve(app: Any, *, host: str, port: int, graceful_shutdown_seconds: float = GRACEFUL_SHUTDOWN_SECONDS) -> None:
    settings = getattr(getattr(app, "state", None), "settings", None)
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,
        timeout_graceful_shutdown=int(graceful_shutdown_seconds),
        # Behind the compose proxy: the prefix it strips, so /docs names the URLs a browser reaches.
        root_path=getattr(settings, "root_path", ""),
    )
    QuietServer(config).run()
