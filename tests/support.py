"""Helpers tests import: run an app's lifespan, wait on a condition with a deadline, pick free ports."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from fastapi import FastAPI

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


def _ephemeral_ports() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999  # Linux's default range


def free_port_block(size: int = 1) -> int:
    """The first of ``size`` consecutive free TCP ports on loopback, below the kernel's ephemeral range.

    A test that kills a process and starts it again on the same port needs a port that no outgoing connection
    can take meanwhile. Inside the ephemeral range one can: a client that keeps dialling the stopped service
    (a health check, a retrying peer) eventually gets that very port as its source port and connects to itself
    (TCP simultaneous open), and the restarted service's bind then fails with "address already in use".
    """
    low = 10_000
    high = _ephemeral_ports()[0] - size
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
