"""Fixtures for the driver tests: an emulated printer on real ports, and a driver connected to it.

``printer`` is parametrised over the two links a real office has: ``socket://`` (TCP) and a pseudo-terminal
(a serial device path). Cards print in no time unless a test asks for a print time. Helpers are fixtures too
(``panel``, ``open_printer``, ``ticker``, ``emulator_process``): this folder is not a package.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from drivers import CardPrinter, Reconnect, Timeouts, panel_size
from drivers.emulator import Emulator, EmulatorConfig

# Short time-outs keep failure paths quick; one card's margin of 1 s bounds the wait after a lost link.
FAST = Timeouts(short=2.0, download=5.0, margin=1.0)
QUICK_RECONNECT = Reconnect(attempts=4, first_delay=0.02, max_delay=0.2)

StartEmulator = Callable[..., AbstractAsyncContextManager[Emulator]]


def make_panel(levels: int = 2, pattern: bytes = b"\r\x1b") -> bytes:
    """One 1016×648 panel filled with ``pattern`` (by default CR and ESC, which framing must not trip on)."""
    size = panel_size(levels)
    return (pattern * (size // len(pattern) + 1))[:size]


@pytest.fixture
def panel() -> Callable[..., bytes]:
    """``panel(levels=2, pattern=b"\\r\\x1b")`` → the bytes of one panel."""
    return make_panel


@pytest.fixture
def start_emulator(tmp_path: Path) -> StartEmulator:
    """``async with start_emulator(ribbon=3) as emu``: an emulator with state dir and pty, zero print time."""

    @contextlib.asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Emulator]:
        settings: dict[str, Any] = {
            "time_scale": math.inf,
            "pty": True,
            "state_dir": tmp_path / overrides.get("name", "printer-1"),
        }
        async with Emulator(EmulatorConfig(**(settings | overrides))) as emulator:
            yield emulator

    return start


@pytest.fixture
async def emulator(start_emulator: StartEmulator) -> AsyncIterator[Emulator]:
    async with start_emulator() as emulator:
        yield emulator


@pytest.fixture(params=["socket", "pty"])
def link(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def url_for(emulator: Emulator, link: str) -> str:
    url = emulator.url if link == "socket" else emulator.pty_path
    assert url is not None
    return url


def _open_printer(target: Emulator | str, link: str = "socket", **options: Any) -> CardPrinter:
    url = target if isinstance(target, str) else url_for(target, link)
    settings: dict[str, Any] = {"timeouts": FAST, "reconnect": QUICK_RECONNECT, "poll_interval": 0.02}
    return CardPrinter.open(url, **(settings | options))


@pytest.fixture
def open_printer() -> Callable[..., CardPrinter]:
    """``async with open_printer(emulator_or_url, link="pty", **options)``: short time-outs."""
    return _open_printer


@pytest.fixture
async def printer(emulator: Emulator, link: str) -> AsyncIterator[CardPrinter]:
    async with _open_printer(emulator, link) as printer:
        yield printer


def _cpu_wait() -> float:
    """Seconds this thread has spent runnable but waiting for a CPU (Linux schedstat; 0 where not told)."""
    try:
        with open("/proc/thread-self/schedstat", "rb") as schedstat:
            return int(schedstat.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


@dataclass
class Ticker:
    """Ticks every ``interval`` seconds in the event loop and records how late each tick woke up.

    On a loaded machine the kernel alone makes ticks late (an idle loop sees lags of 50–100 ms at a load of
    9 on two cores), so each tick also records how long the loop's thread waited for a CPU meanwhile:
    ``held()`` is the lag this process caused (the loop busy or blocked, or waiting for the GIL).
    """

    interval: float = 0.005
    lags: list[float] = field(default_factory=list)
    cpu_waits: list[float] = field(default_factory=list)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started, waited = loop.time(), _cpu_wait()
            await asyncio.sleep(self.interval)
            self.cpu_waits.append(_cpu_wait() - waited)
            self.lags.append(loop.time() - started - self.interval)

    def held(self, since: int = 0) -> list[float]:
        """Each tick's lag from tick ``since`` on, less the time the kernel gave the CPU to someone else."""
        return [max(0.0, lag - wait) for lag, wait in zip(self.lags[since:], self.cpu_waits[since:], strict=True)]


@pytest.fixture
async def ticker() -> AsyncIterator[Ticker]:
    """A ticking task in the test's event loop: ``ticker.lags`` shows how free the loop stayed."""
    ticker = Ticker()
    task = asyncio.get_running_loop().create_task(ticker.run())
    yield ticker
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


@dataclass
class EmulatorProcess:
    process: asyncio.subprocess.Process
    printers: list[dict[str, Any]]
    lines: list[str]


# The emulator as a program: ``python -m drivers.emulator`` (``ektp emulator`` is the same, see test_emulator).
EMULATOR_PROGRAM = (sys.executable, "-m", "drivers.emulator")


@pytest.fixture
def emulator_process() -> Callable[..., AbstractAsyncContextManager[EmulatorProcess]]:
    """``async with emulator_process("--port", "0", printers=1) as run``: the emulator as a real program.

    ``program=("…/ektp", "emulator")`` starts it another way.
    """
    return _emulator_process


@contextlib.asynccontextmanager
async def _emulator_process(
    *args: str, printers: int = 1, program: tuple[str, ...] = EMULATOR_PROGRAM
) -> AsyncIterator[EmulatorProcess]:
    """``PROGRAM ARGS`` until it printed one JSON line per printer; SIGTERM at the end."""
    process = await asyncio.create_subprocess_exec(
        *program,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    lines: list[str] = []
    found: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(20):
            while len(found) < printers:
                line = (await process.stdout.readline()).decode()
                if not line:
                    assert process.stderr is not None
                    pytest.fail(f"the emulator exited: {(await process.stderr.read()).decode()}")
                lines.append(line.rstrip("\n"))
                if line.startswith("{"):
                    found.append(json.loads(line))
        yield EmulatorProcess(process, found, lines)
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
            async with asyncio.timeout(10):
                await process.communicate()
