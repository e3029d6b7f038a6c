"""The whole system idle, then under a mixed load: the idle CPU, errors and memory growth per service.

    .venv/bin/python bench/bench_system.py            # a 10-minute soak (the issue's figure)
    .venv/bin/python bench/bench_system.py --minutes 1

It starts the system with ``ektp up`` (SQLite, two emulated printers printing at 1000× speed) and first
measures the CPU that all its processes (services, emulators, the supervisor) use while it idles: printers
ready, nothing queued (goal: ≤ 1 % of one core). Baseline in the same run: the same idle stack with the
gateway polling the queue every second (``claim_wait_seconds = 0``) instead of waiting claims. Then for the
soak's length it keeps four kinds of users busy at once: front-desk intake (walk-ins, some urgent), kecamatan
batches, readers (queue, stock, printers, request pages, coverage) and the printers themselves. It samples
each service's resident memory after a one-minute warm-up, halfway and at the end (goal: ≤ 10 % growth) and counts
errors (goal: 0: any 5xx, any transport error, any unexpected 4xx).
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psutil
from rich.console import Console
from rich.table import Table

from drivers.emulator.control_client import control_headers
from services.ops.demo import request_body
from tests.factories import to_csv
from tests.system.harness import SystemUnderTest, people

SERVICES = ("request", "inventory", "gateway")
RIBBON_CHANGE_AT = 40  # prints left (a 1000× printer makes ~30 a second)
TRAY_EMPTY_BEFORE = 100  # cards below a full output tray
# Blanks for the soak: intake and batches bring ~20 requests a second; the office's 8,016 would run out.
SOAK_BLANKS = 30_000


class Load:
    def __init__(self, sut: SystemUnderTest, deadline: float) -> None:
        self.sut, self.deadline = sut, deadline
        self.calls: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()
        self.lock = threading.Lock()
        self.serial = 1000

    def next_serial(self, n: int) -> int:
        """The NIK's last four digits: distinct runs of ``n`` within 1000–9999 (birth dates vary too)."""
        with self.lock:
            if self.serial + n > 9999:
                self.serial = 1000
            first, self.serial = self.serial, self.serial + n
            return first

    def record(self, kind: str, response: httpx.Response | None, ok: tuple[int, ...]) -> None:
        with self.lock:
            self.calls[kind] += 1
            if response is None or response.status_code not in ok:
                self.errors[f"{kind} {response.status_code if response is not None else 'transport'}"] += 1

    def call(
        self, kind: str, fn: Callable[..., httpx.Response], *args: Any, ok: tuple[int, ...] = (200, 201), **kwargs: Any
    ) -> httpx.Response | None:
        try:
            response = fn(*args, **kwargs)
        except httpx.TransportError:
            response = None
        self.record(kind, response, ok)
        return response

    def intake(self, seed: int) -> None:
        rng = random.Random(seed)
        with self.sut.client("request") as desk:
            while time.monotonic() < self.deadline:
                person = people(1, seed=rng.randrange(1 << 30), first_serial=self.next_serial(1))[0]
                urgent = rng.random() < 0.2
                body = request_body(person, rng, channel="walk_in", reason="health" if urgent else "first_card")
                self.call("intake", desk.post, "/v1/requests", json=body)
                time.sleep(0.2)

    def batches(self, seed: int) -> None:
        rng = random.Random(seed)
        n = 0
        with self.sut.client("request") as clerk:
            while time.monotonic() < self.deadline:
                n += 1
                batch = people(50, seed=rng.randrange(1 << 30), kecamatan="18.09.02", first_serial=self.next_serial(50))
                rows = [request_body(p, rng, channel="kecamatan_batch", reason="address_change") for p in batch]
                for row in rows:
                    row.pop("channel")
                self.call(
                    "batch",
                    clerk.post,
                    "/v1/batches",
                    params={"filename": f"SOAK-{seed}-{n}"},
                    content=to_csv(rows),
                    headers={"Content-Type": "text/csv"},
                    ok=(200, 201, 202),
                )
                time.sleep(5)

    def operator(self) -> None:
        """What the office does for the printers: a new ribbon before one runs out, an emptied output tray."""
        printers = self.sut.reload()["printers"].values()
        controls = [(str(p["control"]), control_headers(p["control_token_file"])) for p in printers]
        with httpx.Client(timeout=5.0) as http:
            while time.monotonic() < self.deadline:
                for url, headers in controls:
                    state = http.get(f"{url}/state", headers=headers).json()
                    if state["ribbon_left"] < RIBBON_CHANGE_AT:
                        self.call("operator ribbon", http.post, f"{url}/actions/load_ribbon",
                                  json={}, headers=headers, ok=(200,))  # fmt: skip
                    if state["output_count"] > state["output_capacity"] - TRAY_EMPTY_BEFORE:
                        self.call("operator tray", http.post, f"{url}/actions/empty_output",
                                  json={}, headers=headers, ok=(200,))  # fmt: skip
                time.sleep(0.5)

    def reads(self, seed: int) -> None:
        rng = random.Random(seed)
        clients = {s: self.sut.client(s) for s in SERVICES}
        paths = [
            ("request", "/v1/queue/stats"), ("request", "/v1/requests?limit=50"), ("request", "/v1/coverage"),
            ("inventory", "/v1/stock"), ("inventory", "/v1/stock/invariant"), ("inventory", "/v1/forecast"),
            ("gateway", "/v1/printers"), ("gateway", "/v1/jobs?limit=50"),
        ]  # fmt: skip
        try:
            while time.monotonic() < self.deadline:
                service, path = rng.choice(paths)
                self.call(f"read {service}", clients[service].get, path, ok=(200,))
                time.sleep(0.05)
        finally:
            for client in clients.values():
                client.close()


def rss(pid: int) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def idle_cpu(sut: SystemUnderTest, seconds: float, settle: float = 10.0) -> float:
    """Percent of one core that the whole stack uses over ``seconds`` with nothing to do."""
    assert sut.process is not None
    time.sleep(settle)  # let start-up work (commissioning, the first polls) finish
    processes = [psutil.Process(int(p)) for p in sut.reload()["pids"].values()] + [psutil.Process(sut.process.pid)]
    start = [p.cpu_times() for p in processes]
    time.sleep(seconds)
    end = [p.cpu_times() for p in processes]
    cpu = sum((e.user + e.system) - (s.user + s.system) for s, e in zip(start, end, strict=True))
    return cpu / seconds * 100


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=60.0, help="seconds before the first memory sample")
    parser.add_argument("--idle", type=float, default=30.0, help="seconds of idle CPU measurement")
    parser.add_argument("--quick", action="store_true", help="one minute of load, 20 s warm-up, 15 s idle")
    args = parser.parse_args()
    if args.quick:
        args.minutes, args.warmup, args.idle = 1.0, 20.0, 15.0
    console = Console()
    with tempfile.TemporaryDirectory(prefix="ektp-idle-") as tmp:
        polling = SystemUnderTest(Path(tmp), blanks=8016, time_scale=1000, env={"EKTP_GATEWAY_CLAIM_WAIT_SECONDS": "0"})
        polling.start()
        try:
            idle_polling = idle_cpu(polling, args.idle)
        finally:
            polling.stop()
    with tempfile.TemporaryDirectory(prefix="ektp-soak-") as tmp:
        sut = SystemUnderTest(Path(tmp), blanks=SOAK_BLANKS, time_scale=1000)
        sut.start()
        try:
            idle_share = idle_cpu(sut, args.idle)
            with sut.client("request") as operator:
                printed_before = int(operator.get("/v1/queue/stats").json()["printed_today"])
            deadline = time.monotonic() + args.minutes * 60
            load = Load(sut, deadline)
            threads = [threading.Thread(target=load.intake, args=(i,)) for i in range(2)]
            threads += [threading.Thread(target=load.batches, args=(10,))]
            threads += [threading.Thread(target=load.reads, args=(20 + i,)) for i in range(2)]
            threads += [threading.Thread(target=load.operator)]
            for thread in threads:
                thread.start()
            time.sleep(min(args.warmup, args.minutes * 60 / 2))
            pids = {s: int(sut.reload()["pids"][s]) for s in SERVICES}
            before = {s: rss(pid) for s, pid in pids.items()}
            # Halfway between the warm-up and the end: growth in the second half tells a leak from caches filling.
            time.sleep(max(0.0, (deadline - time.monotonic()) / 2))
            middle = {s: rss(pid) for s, pid in pids.items()}
            for thread in threads:
                thread.join()
            after = {s: rss(pid) for s, pid in pids.items()}
            with sut.client("request") as operator:
                stats = operator.get("/v1/queue/stats").json()
            with sut.client("inventory") as operator:
                invariant = operator.get("/v1/stock/invariant").json()
        finally:
            sut.stop()

    table = Table(title=f"{args.idle:g} s idle, then a soak: {args.minutes:g} min of mixed load")
    columns = ("service", "RSS after warm-up (MiB)", "halfway", "at end", "growth", "second half", "goal")
    for column in columns:
        table.add_column(column)
    for s in SERVICES:
        growth = (after[s] - before[s]) / before[s] * 100
        second = (after[s] - middle[s]) / middle[s] * 100
        mib = [f"{v[s] / 2**20:.1f}" for v in (before, middle, after)]
        table.add_row(s, *mib, f"{growth:+.1f} %", f"{second:+.1f} %", "≤ 10 %")
    console.print(table)
    summary = Table(show_header=False)
    summary.add_row("calls", ", ".join(f"{k}: {v}" for k, v in sorted(load.calls.items())))
    summary.add_row(
        "errors (goal 0)", str(sum(load.errors.values())) + (f"  {dict(load.errors)}" if load.errors else "")
    )
    summary.add_row("queue at the end of the load", str(stats))
    printed = int(stats["printed_today"]) - printed_before
    summary.add_row("cards printed during the load", f"{printed} ({printed / (args.minutes * 60):.1f} a second)")
    ledger = f"holds: {invariant['holds']}, consumed {invariant['consumed']}"
    summary.add_row("blank ledger invariant at the end", ledger)
    summary.add_row("idle stack CPU (goal ≤ 1 % of a core)", f"{idle_share:.2f} %  (waiting claims)")
    summary.add_row("baseline: idle stack CPU, polling every second", f"{idle_polling:.2f} %  (claim_wait_seconds=0)")
    console.print(summary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
