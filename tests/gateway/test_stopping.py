"""A stopping gateway ends its background work even when a task swallows a cancellation."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from services.common.tasks import cancel_and_wait


async def _swallows_the_first_cancellation(ended: list[str]) -> None:
    # What Python 3.11's wait_for can do when its event is set as the cancellation arrives (gh-86296).
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.sleep(3600)
    try:
        await asyncio.sleep(3600)
    finally:
        ended.append("ended")


async def test_a_task_that_swallows_one_cancellation_is_cancelled_again_until_it_ends() -> None:
    ended: list[str] = []
    task = asyncio.create_task(_swallows_the_first_cancellation(ended))
    await asyncio.sleep(0)
    await asyncio.wait_for(cancel_and_wait([task], again_every=0.05), timeout=10)
    assert task.cancelled()
    assert ended == ["ended"]


async def test_tasks_already_done_or_failed_are_waited_for_without_raising(caplog: pytest.LogCaptureFixture) -> None:
    async def fails() -> None:
        raise RuntimeError("a report that failed")

    done = asyncio.create_task(asyncio.sleep(0))
    failed = asyncio.create_task(fails())
    await asyncio.sleep(0.01)
    await cancel_and_wait([done, failed])
    assert "a report that failed" in caplog.text
