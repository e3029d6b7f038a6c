"""Driver benchmarks: cards a second through driver → emulator, CPU per card, event-loop lag; prints a table.

    .venv/bin/python bench/bench_drivers.py [--cards 200] [--quick]

The emulators run as separate processes (``python -m drivers.emulator``) at zero print time, so what is
measured is the host side: this process's CPU (event loop and the transport's worker threads) and how late
a 1 ms ticker in its event loop wakes up. Baselines in the same run: the same commands written by hand over
bare, blocking pyserial (no driver layer), and the ticker with nothing printing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import serial
from rich.console import Console
from rich.table import Table

from drivers import CardPrinter, Frame, panel_size

ROOT = Path(__file__).resolve().parent.parent
# A colour card as an e-KTP printer gets it: Y, M, C at 64 levels, K and overlay at 2.
YMCKO = {
    name: bytes([0x1B, 0x0D, 0x42]) * (panel_size(levels) // 3)
    for name, levels in (("y", 64), ("m", 64), ("c", 64), ("k", 2), ("o", 2))
}
K_ONLY = {"k": YMCKO["k"]}


@dataclass
class Row:
    what: str
    link: str
    value: str
    baseline: str = ""
    note: str = ""


@contextlib.contextmanager
def emulators(count: int, *extra: str) -> Iterator[list[dict[str, str]]]:
    """``count`` emulator processes (one printer each) at zero print time; yields their JSON lines."""
    with tempfile.TemporaryDirectory(prefix="bench-drivers-") as tmp:
        processes: list[subprocess.Popen[str]] = []
        infos: list[dict[str, str]] = []
        try:
            for i in range(count):
                args = [
                    sys.executable,
                    "-m",
                    "drivers.emulator",
                    "--port",
                    "0",
                    "--control-port",
                    "0",
                    "--pty",
                    "--time-scale",
                    "inf",
                    "--serials",
                    "KTP00000001-KTP09999999",
                    "--ribbon",
                    "10000000",
                    "--output-capacity",
                    "10000000",
                    "--state-dir",
                    f"{tmp}/p{i}",
                    "--name",
                    f"bench-{i}",
                    *extra,
                ]
                processes.append(subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=ROOT))
            for process in processes:
                assert process.stdout is not None
                while not (line := process.stdout.readline()).startswith("{"):
                    if not line:
                        raise RuntimeError("an emulator did not start")
                infos.append(json.loads(line) | {"pid": process.pid})
            yield infos
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(10)
                if process.stdout is not None:
                    process.stdout.close()


async def driver_cards(url: str, cards: int, panels: dict[str, bytes]) -> tuple[float, float]:
    """Seconds and this process's CPU seconds for ``cards`` cards through the driver."""
    async with CardPrinter.open(url) as printer:
        await printer.print_card(f"warm-{time.monotonic_ns()}", panels)
        started, cpu = time.perf_counter(), time.process_time()
        for n in range(cards):
            await printer.print_card(f"bench-{time.monotonic_ns()}-{n}", panels)
        return time.perf_counter() - started, time.process_time() - cpu


def raw_cards(url: str, cards: int, panels: dict[str, bytes]) -> tuple[float, float]:
    """The same card sequence over bare blocking pyserial, as a script without the driver would send it."""
    port = serial.serial_for_url(url, timeout=10)
    try:
        downloads = [Frame.download(name, data).encode() for name, data in panels.items()]
        started, cpu = time.perf_counter(), time.process_time()
        for n in range(cards):
            for frame in (
                Frame("Ss", (f"raw-{time.monotonic_ns()}-{n}",)).encode(),
                b"\x1bSr\r",
                *downloads,
                b"\x1bSe\r",
            ):
                port.write(frame)
                if not port.read_until(b"\r").startswith(b"OK"):
                    raise RuntimeError("the emulator refused a raw command")
        return time.perf_counter() - started, time.process_time() - cpu
    finally:
        port.close()


async def driver_round_trips(url: str, count: int) -> float:
    async with CardPrinter.open(url) as printer:
        started = time.perf_counter()
        for _ in range(count):
            await printer.transport.request(Frame("Rst"))
        return count / (time.perf_counter() - started)


def raw_round_trips(url: str, count: int) -> float:
    port = serial.serial_for_url(url, timeout=5)
    try:
        started = time.perf_counter()
        for _ in range(count):
            port.write(b"\x1bRst\r")
            port.read_until(b"\r")
        return count / (time.perf_counter() - started)
    finally:
        port.close()


async def ticking(seconds: float | None, stop: asyncio.Event | None = None) -> list[float]:
    """Lags of a 1 ms ticker, for ``seconds`` or until ``stop`` is set."""
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    until = loop.time() + (seconds or 1e9)
    while loop.time() < until and not (stop and stop.is_set()):
        started = loop.time()
        await asyncio.sleep(0.001)
        lags.append(loop.time() - started - 0.001)
    return lags


async def four_at_once(urls: list[str], cards: int, panels: dict[str, bytes]) -> tuple[list[float], float, int]:
    stop = asyncio.Event()
    ticker = asyncio.create_task(ticking(None, stop))
    started = time.perf_counter()
    await asyncio.gather(*(driver_cards(url, cards, panels) for url in urls))
    elapsed = time.perf_counter() - started
    stop.set()
    return await ticker, elapsed, cards * len(urls)


def lag_text(lags: list[float]) -> str:
    ordered = sorted(lags)
    worst, p99, p50 = ordered[-1], ordered[int(0.99 * (len(ordered) - 1))], statistics.median(ordered)
    return f"worst {worst * 1000:.1f} ms, p99 {p99 * 1000:.2f} ms, p50 {p50 * 1000:.2f} ms"


def idle_cpu(pids: list[int], seconds: float) -> float:
    processes = [psutil.Process(pid) for pid in pids]
    before = [sum(p.cpu_times()[:2]) for p in processes]
    time.sleep(seconds)
    return float(sum(sum(p.cpu_times()[:2]) - b for p, b in zip(processes, before, strict=True)))


async def run(cards: int, quick: bool) -> list[Row]:
    rows: list[Row] = []
    with emulators(1) as (info,):
        for link in ("socket", "pty"):
            url = info["url"] if link == "socket" else info["pty"]
            trips = 200 if quick else 2000
            driver_rate = await driver_round_trips(url, trips)
            raw_rate = await asyncio.to_thread(raw_round_trips, url, trips)
            rows.append(Row("Rst round trips / s", link, f"{driver_rate:,.0f}", f"{raw_rate:,.0f} raw pyserial"))
            for label, panels in (("k only, 82 KB", K_ONLY), ("YMCKO, 1.6 MB", YMCKO)):
                n = max(5, cards // (10 if panels is YMCKO else 1))
                seconds, cpu = await driver_cards(url, n, panels)
                raw_seconds, raw_cpu = await asyncio.to_thread(raw_cards, url, n, panels)
                rows.append(
                    Row(
                        f"cards / s ({label})",
                        link,
                        f"{n / seconds:,.1f}",
                        f"{n / raw_seconds:,.1f} raw pyserial",
                        "driver adds an Rjs check a card",
                    )
                )
                rows.append(
                    Row(
                        f"host CPU / card ({label})",
                        link,
                        f"{cpu / n * 1000:.2f} ms",
                        f"{raw_cpu / n * 1000:.2f} ms raw pyserial",
                    )
                )

    with emulators(4) as infos:
        idle = await ticking(1.0 if quick else 2.0)
        for link in ("socket", "pty"):
            urls = [info["url"] if link == "socket" else info["pty"] for info in infos]
            lags, elapsed, total = await four_at_once(urls, max(5, cards // 10), YMCKO)
            rows.append(
                Row(
                    "event-loop lag, 4 printers at once (YMCKO)",
                    link,
                    lag_text(lags),
                    f"idle: {lag_text(idle)}",
                    f"{total / elapsed:,.1f} cards/s in all; goal: worst < 10 ms",
                )
            )
            lags, elapsed, total = await four_at_once(urls, max(10, cards // 2), K_ONLY)
            rows.append(
                Row(
                    "event-loop lag, 4 printers at once (k only)",
                    link,
                    lag_text(lags),
                    "",
                    f"{total / elapsed:,.1f} cards/s in all",
                )
            )

    count = 4 if quick else 16
    with emulators(count) as infos:
        used = idle_cpu([int(info["pid"]) for info in infos], 2.0)
        rows.append(
            Row(
                f"CPU of {count} idle emulators",
                "-",
                f"{used / 2.0 * 100:.2f} % of one core",
                "",
                "no busy polling: each waits in select",
            )
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cards", type=int, default=200, help="k-only cards per measurement (YMCKO: a tenth)")
    parser.add_argument("--quick", action="store_true", help="a short run (smoke test)")
    args = parser.parse_args(argv)
    rows = asyncio.run(run(20 if args.quick else args.cards, args.quick))
    table = Table(title=f"drivers: driver → emulator at zero print time ({psutil.cpu_count()} CPUs)")
    for column in ("measure", "link", "driver", "baseline", "note"):
        table.add_column(column)
    for row in rows:
        table.add_row(row.what, row.link, row.value, row.baseline, row.note)
    Console(width=200).print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
