"""Inventory benchmark: reserve + consume a second through the HTTP API on PostgreSQL, against raw SQL.

    .venv/bin/python bench/bench_inventory.py [--clients 16] [--seconds 20] [--quick]

The inventory service runs as a real uvicorn process (``ektp serve inventory``) on a fresh PostgreSQL
database (127.0.0.1:5432, user postgres; made and dropped here). N concurrent clients each loop: reserve a
blank for a new job, then consume it with a serial (two HTTP calls, two transactions, with the ledger's
movements and audit rows). Baseline in the same run and database server: the same N connections doing the
least a claim needs in raw SQL over asyncpg — claim one available blank with ``SELECT … FOR UPDATE SKIP
LOCKED`` and mark it reserved, then complete it (two transactions). At the end the service's invariant is
checked.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg
import httpx
import psutil
from rich.console import Console
from rich.table import Table

from services.common.auth import generate_key_pair, issue_token
from services.common.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent

PG = {"host": "127.0.0.1", "port": 5432, "user": "postgres"}


async def admin(sql: str) -> None:
    for database in ("postgres", "test"):
        try:
            connection = await asyncpg.connect(database=database, **PG)
        except asyncpg.InvalidCatalogNameError:
            continue
        try:
            await connection.execute(sql)
        finally:
            await connection.close()
        return
    raise RuntimeError("no admin database (postgres or test) on the server")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run_for(seconds: float, clients: int, one: Callable[[int], Awaitable[None]]) -> tuple[int, list[float]]:
    """Run ``one(worker)`` in a loop on ``clients`` workers for ``seconds``; returns (pairs done, latencies)."""
    deadline = time.perf_counter() + seconds
    latencies: list[float] = []

    async def worker(n: int) -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            await one(n)
            latencies.append(time.perf_counter() - started)

    await asyncio.gather(*(worker(n) for n in range(clients)))
    return len(latencies), latencies


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000


async def bench_api(
    url: str, blanks: int, clients: int, seconds: float
) -> tuple[float, list[float], dict[str, object]]:
    keys = generate_key_pair()
    port = free_port()
    env = os.environ | {
        "EKTP_INVENTORY_DATABASE_URL": url,
        "EKTP_INVENTORY_JWT_PUBLIC_KEY": keys.public_pem.decode(),
        "EKTP_INVENTORY_URGENT_RESERVE_COUNT": "0",
        "EKTP_INVENTORY_LOG_LEVEL": "WARNING",
        "EKTP_INVENTORY_DB_POOL_SIZE": str(max(10, clients)),
        "EKTP_INVENTORY_RATE_LIMITS": "{}",  # one operator stands in for a whole office here
    }
    code = f"from services.ops.cli import main; raise SystemExit(main(['serve', 'inventory', '--port', '{port}']))"
    server = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    operator = {"Authorization": "Bearer " + issue_token(keys.private_pem, role="operator", subject="bench")}
    gateway = {"Authorization": "Bearer " + issue_token(keys.private_pem, role="service", subject="bench-gw")}
    # TCP_NODELAY on the client's sockets: small request writes are never held back waiting for an ACK.
    transport = httpx.AsyncHTTPTransport(
        socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        limits=httpx.Limits(max_connections=clients + 4),
    )
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30, transport=transport) as c:
            for _ in range(200):
                try:
                    if (await c.get("/readyz")).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("the inventory service did not start")
            tranche = {
                "reference": "BENCH-1",
                "received_on": "2026-11-29",
                "ranges": [{"first": "KTP00000001", "last": f"KTP{blanks:08d}"}],
                "received_by": "bench",
            }
            started = time.perf_counter()
            response = await c.post("/v1/tranches", json=tranche, headers=operator)
            response.raise_for_status()
            receive_seconds = time.perf_counter() - started
            serials = itertools.count(1)

            async def one(worker: int) -> None:
                n = next(serials)
                job = f"job_{uuid.uuid4().hex}"
                r = await c.post("/v1/reservations", json={"job_id": job, "ttl_seconds": 600}, headers=gateway)
                assert r.status_code == 201, r.text
                body = {"serial": f"KTP{n:08d}", "request_id": f"req-{n}", "printer_id": f"printer-{worker}"}
                r = await c.post(f"/v1/reservations/{job}/consume", json=body, headers=gateway)
                assert r.status_code == 200, r.text

            process = psutil.Process(server.pid)
            cpu_before = sum(process.cpu_times()[:2])
            done, latencies = await run_for(seconds, clients, one)
            server_cpu = sum(process.cpu_times()[:2]) - cpu_before
            invariant = (await c.get("/v1/stock/invariant", headers=operator)).json()
    finally:
        server.terminate()
        server.wait(10)
    extra: dict[str, object] = {
        "receive_seconds": receive_seconds,
        "invariant": invariant,
        "server_cpu_ms_per_pair": server_cpu / max(done, 1) * 1000,
    }
    return done / seconds, latencies, extra


async def bench_raw(dsn_db: str, blanks: int, clients: int, seconds: float) -> tuple[float, list[float]]:
    setup = await asyncpg.connect(database=dsn_db, **PG)
    await setup.execute(
        "CREATE TABLE raw_blanks (serial text PRIMARY KEY, state text NOT NULL, job_id text);"
        "CREATE INDEX raw_blanks_state ON raw_blanks (state, serial)"
    )
    await setup.copy_records_to_table(
        "raw_blanks", records=[(f"KTP{n:08d}", "available", None) for n in range(1, blanks + 1)]
    )
    await setup.execute("ANALYZE raw_blanks")
    await setup.close()
    pool = await asyncpg.create_pool(database=dsn_db, min_size=clients, max_size=clients, **PG)
    claim = (
        "UPDATE raw_blanks SET state = 'reserved', job_id = $1 WHERE serial = ("
        " SELECT serial FROM raw_blanks WHERE state = 'available' ORDER BY serial LIMIT 1 FOR UPDATE SKIP LOCKED"
        ") RETURNING serial"
    )

    async def one(worker: int) -> None:
        async with pool.acquire() as connection:
            job = f"job_{uuid.uuid4().hex}"
            async with connection.transaction():
                serial = await connection.fetchval(claim, job)
            assert serial is not None, "the raw baseline ran out of blanks"
            async with connection.transaction():
                await connection.execute("UPDATE raw_blanks SET state = 'consumed' WHERE serial = $1", serial)

    try:
        done, latencies = await run_for(seconds, clients, one)
    finally:
        await pool.close()
    return done / seconds, latencies


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (default 16)")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured seconds per side (default 20)")
    parser.add_argument("--blanks", type=int, default=40_000, help="blanks received first (default 40000)")
    parser.add_argument("--quick", action="store_true", help="8 clients, 5 s, 8016 blanks")
    args = parser.parse_args()
    if args.quick:
        args.clients, args.seconds, args.blanks = 8, 5.0, 8016

    console = Console()
    tag = uuid.uuid4().hex[:8]
    api_db, raw_db = f"ektp_bench_inv_{tag}", f"ektp_bench_raw_{tag}"
    await admin(f'CREATE DATABASE "{api_db}"')
    await admin(f'CREATE DATABASE "{raw_db}"')
    try:
        url = f"postgresql+asyncpg://{PG['user']}@{PG['host']}:{PG['port']}/{api_db}"
        await asyncio.to_thread(upgrade, "inventory", url)
        console.print(f"[dim]{args.clients} clients, {args.seconds:.0f} s each side, {args.blanks} blanks[/dim]")
        api_rate, api_lat, extra = await bench_api(url, args.blanks, args.clients, args.seconds)
        raw_rate, raw_lat = await bench_raw(raw_db, args.blanks, args.clients, args.seconds)
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{api_db}" WITH (FORCE)')
        await admin(f'DROP DATABASE IF EXISTS "{raw_db}" WITH (FORCE)')

    table = Table(title="inventory: reserve + consume on PostgreSQL")
    for column in ("path", "pairs/s", "p50 ms", "p95 ms", "p99 ms", "server CPU ms/pair"):
        table.add_column(column, justify="right" if column != "path" else "left")
    table.add_row(
        "HTTP API (uvicorn, ledger + audit)",
        f"{api_rate:,.0f}",
        f"{pct(api_lat, 0.5):.1f}",
        f"{pct(api_lat, 0.95):.1f}",
        f"{pct(api_lat, 0.99):.1f}",
        f"{extra['server_cpu_ms_per_pair']:.1f}",
    )
    table.add_row(
        "raw SQL (asyncpg, SKIP LOCKED)",
        f"{raw_rate:,.0f}",
        f"{pct(raw_lat, 0.5):.1f}",
        f"{pct(raw_lat, 0.95):.1f}",
        f"{pct(raw_lat, 0.99):.1f}",
        "-",
    )
    console.print(table)
    invariant = extra["invariant"]
    assert isinstance(invariant, dict)
    console.print(
        f"API / raw = {api_rate / raw_rate:.2f} ({raw_rate / api_rate:.1f}x slower); "
        f"tranche of {args.blanks} received in {extra['receive_seconds']:.2f} s; "
        f"invariant holds: {invariant['holds']} "
        f"(consumed {invariant['consumed']}, available {invariant['available']}); "
        f"mean API pair {statistics.fmean(api_lat) * 1000:.1f} ms; "
        f"server CPU {extra['server_cpu_ms_per_pair']:.1f} ms per pair (one uvicorn process); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )


if __name__ == "__main__":
    asyncio.run(main())
