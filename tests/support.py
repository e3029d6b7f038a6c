"""Helpers tests import: run an app's lifespan, wait on a condition with a deadline, pick free ports, walk an
app's routes."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts

from services.ops.stack import ephemeral_port_range

__all__ = [
    "PUBLIC_PATHS",
    "UNSERVED_4XX",
    "app_routes",
    "assert_allowed",
    "concrete",
    "free_port",
    "free_port_block",
    "running",
    "wait_for",
]

# Paths every service answers without a token: probes, the metrics scraper, the OpenAPI document and its viewers.
PUBLIC_PATHS = frozenset(
    {"/healthz", "/readyz", "/metrics", "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}
)

# What a caller whose role may make a call is answered when the call lacks what it needs: the object is unknown
# (404), not in a state for it (409), or the body is missing or invalid (422).
UNSERVED_4XX = frozenset({404, 409, 422})


def assert_allowed(response: httpx.Response, what: object, expected: int | None = None) -> None:
    """The answer to a caller whose role the policy allows: ``expected`` when given, else a 2xx or one of
    ``UNSERVED_4XX`` as a problem document. Never 401 or 403 (the role check let it through) and never a 5xx
    (whatever it asked, it was handled)."""
    status = response.status_code
    assert status < 500, (what, status, response.text)
    assert status not in (401, 403), (what, status, response.text)
    if expected is not None:
        assert status == expected, (what, status, response.text)
    assert 200 <= status < 300 or status in UNSERVED_4XX, (what, status, response.text)
    if status >= 400:
        assert response.headers["content-type"].startswith("application/problem+json"), (what, response.headers)


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
    can take meanwhile (``services.ops.stack.ephemeral_port_range`` says why).
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


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """``(method, path)`` of every route of the app, included routers' too (HEAD left out: GET's twin)."""
    return {
        (method, context.path)
        for context in iter_route_contexts(app.routes)
        if context.path is not None
        for method in context.methods or {"GET"}
        if method != "HEAD"
    }


def concrete(path: str, values: dict[str, str] | None = None) -> str:
    """A route's path with its ``{parameters}`` filled in: from ``values``, else ``x``."""
    return re.sub(r"\{(\w+)\}", lambda m: (values or {}).get(m.group(1), "x"), path)
