"""Background work of a service: periodic loops started in the lifespan, stopped with cancel-and-wait.

    async with periodic(sweep, every=5.0, name="lease-sweeper"):   # in the app's lifespan
        yield

- ``repeat`` runs a step every few seconds for ever; a failing round is logged and the next one comes anyway,
  so a database restart or a peer that is down never ends the loop. A step ends it by raising ``Stop``.
- ``periodic`` is ``repeat`` as a lifespan part.
- ``TaskSet`` keeps tasks a component spawns (commissioning, reports) so ``stop()`` ends every one.
- ``cancel_and_wait`` is how every one of them is stopped; ``keep_trying`` retries an idempotent step.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from typing import Any, TypeVar

__all__ = ["Stop", "TaskSet", "cancel_and_wait", "keep_trying", "periodic", "repeat"]

log = logging.getLogger(__name__)

T = TypeVar("T")


class Stop(Exception):
    """Raised by a ``repeat`` step: the loop's work is over (a lease lost, say); the task ends quietly."""


async def cancel_and_wait(tasks: Iterable[asyncio.Task[Any]], *, again_every: float = 1.0) -> None:
    """Cancel ``tasks`` and wait until each has ended, cancelling again while one has not.

    A task can swallow one cancellation (Python 3.11's ``wait_for``, gh-86296; a library's ``except``); waiting
    on it once would then hang a stopping service for ever."""
    tasks = list(tasks)
    pending = {task for task in tasks if not task.done()}
    while pending:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=again_every)
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.warning("task %s ended with %r while stopping", task.get_name(), task.exception())


async def repeat(
    step: Callable[[], Awaitable[object]],
    *,
    every: float,
    what: str,
    wait_first: bool = False,
    expected: tuple[type[BaseException], ...] = (),
    extra: dict[str, Any] | None = None,
) -> None:
    """Run ``step`` every ``every`` seconds until cancelled or until it raises ``Stop``.

    A failure is logged (an ``expected`` one — a peer or database that is down — in one line, anything else with
    its traceback) and the loop goes on: a background loop that dies silently stops the service's work."""
    if wait_first:
        await asyncio.sleep(every)
    while True:
        try:
            await step()
        except Stop:
            return
        except asyncio.CancelledError:
            raise
        except expected as exc:
            log.warning("%s failed: %s", what, exc or exc.__class__.__name__, extra=extra)
        except Exception:
            log.exception("%s failed; trying again in %.3g s", what, every, extra=extra)
        await asyncio.sleep(every)


@contextlib.asynccontextmanager
async def periodic(
    step: Callable[[], Awaitable[object]],
    *,
    every: float,
    name: str,
    wait_first: bool = False,
    enabled: bool = True,
    expected: tuple[type[BaseException], ...] = (),
) -> AsyncIterator[None]:
    """Lifespan part: ``repeat(step)`` in a task named ``name`` while the app runs (not at all if not ``enabled``)."""
    if not enabled:
        yield
        return
    task = asyncio.create_task(
        repeat(step, every=every, what=name, wait_first=wait_first, expected=expected), name=name
    )
    try:
        yield
    finally:
        await cancel_and_wait([task])


class TaskSet:
    """Tasks a component spawns and must end when it stops (done tasks drop out by themselves)."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()

    def spawn(self, coro: Coroutine[Any, Any, T], *, name: str | None = None) -> asyncio.Task[T]:
        task = asyncio.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def __len__(self) -> int:
        return len(self._tasks)

    def __iter__(self) -> Any:
        return iter(set(self._tasks))

    async def stop(self) -> None:
        await cancel_and_wait(list(self._tasks))


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
    swallowed): a stopping service does not start the step again. A peer killed mid-call can make httpx raise
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
