"""Helpers tests import: run an app's lifespan, wait on a condition with a deadline, pick free ports."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from fastapi import FastAPI

from services.stack import ephemeral_port_range

__all__ = ["free_port", "free_port_block", "running", "wait_for"]


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


def free_port_block(size: int = 1) -> int:
    """The first of ``size`` consecutive free TCP ports on loopback, below the kernel's ephemeral range.

    A test that kills a process and starts it again on the same port needs a port that no outgoing connection
    can take meanwhile (``services.stack.ephemeral_port_range`` says why).
    """
    low = 10_000
    high = ephemeral_port_range()[0] - size
    for _ in range(500):
        base = random.randrange(low, high)
        sockets = []
        try:
            for port in range(base, base + size):
                s = socket.socket()
                sockets.append(s)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in sockets:
                s.close()
    raise RuntimeError(f"no block of {size} free ports between {low} and {high}")


def free_port() -> int:
    """One free TCP port on loopback that a restarted process can bind again (see ``free_port_block``)."""
    return free_port_block(1)
