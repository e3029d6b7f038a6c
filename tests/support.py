"""Helpers tests import: run an app's lifespan, wait on a condition with a deadline."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from fastapi import FastAPI

__all__ = ["running", "wait_for"]


@contextlib.asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[FastAPI]:
    """Run ``app``'s lifespan (engine, background tasks) around the block."""
    async with app.router.lifespan_context(app):
        yield app


async def wait_for(
    condition: Callable[[], Awaitable[bool]],
    *,
    timeout: float = 10.0,
    interval: float = 0.02,
    what: str = "condition",
) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds. Never sleep blindly in tests."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        if await condition():
            return
        await asyncio.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")
