"""Profile the inventory's reserve + consume in-process: statements per pair and where the CPU goes.

    .venv/bin/python bench/profile_inventory.py [--pairs 300] [--sqlite] [--top 40]

The app runs in this process behind httpx's ASGI transport (no network, no uvicorn) on a fresh PostgreSQL
database (127.0.0.1:5432, user postgres; made and dropped here) or a SQLite file. One client loops reserve +
consume; every SQL statement the app sends is counted, then cProfile shows the hottest functions.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import cProfile
import pstats
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import event

from bench.bench_inventory import PG, admin
from services.common.auth import generate_key_pair, issue_token
from services.common.migrate import upgrade
from services.inventory.app import create_app
from services.inventory.config import Settings

ROOT = Path(__file__).resolve().parent.parent


async def run(url: str, pairs: int, top: int, plain: bool = False) -> None:
    keys = generate_key_pair()
    settings = Settings(
        database_url=url,
        jwt_public_key=keys.public_pem.decode(),
        urgent_reserve_count=0,
        start_sweeper=False,
        log_level="WARNING",
    )
    app = create_app(settings)
    operator = {"Authorization": "Bearer " + issue_token(keys.private_pem, role="operator", subject="prof")}
    gateway = {"Authorization": "Bearer " + issue_token(keys.private_pem, role="service", subject="prof-gw")}
    statements: collections.Counter[str] = collections.Counter()
    async with app.router.lifespan_context(app):
        engine = app.state.db.engine

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            statements[" ".join(statement.split())[:110]] += 1

        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://inventory") as c:
            tranche = {
                "reference": "PROF-1",
                "received_on": "2026-11-29",
                "ranges": [{"first": "KTP00000001", "last": f"KTP{pairs * 2 + 8000:08d}"}],
                "received_by": "prof",
            }
            (await c.post("/v1/tranches", json=tranche, headers=operator)).raise_for_status()

            async def one(n: int) -> None:
                job = f"job_{uuid.uuid4().hex}"
                r = await c.post("/v1/reservations", json={"job_id": job, "ttl_seconds": 600}, headers=gateway)
                assert r.status_code == 201, r.text
                body = {"serial": f"KTP{n:08d}", "request_id": f"req-{n}", "printer_id": "printer-1"}
                r = await c.post(f"/v1/reservations/{job}/consume", json=body, headers=gateway)
                assert r.status_code == 200, r.text

            for n in range(1, 21):  # warm up: prepared statements, caches
                await one(n)
            statements.clear()
            profiler = cProfile.Profile(time.process_time)
            cpu = time.process_time()
            started = time.perf_counter()
            if not plain:
                profiler.enable()
            for n in range(21, 21 + pairs):
                await one(n)
            profiler.disable()
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu
            counted = collections.Counter(statements)
            plain_cpu = time.process_time()
            for n in range(21 + pairs, 21 + 2 * pairs):  # the same again without the profiler
                await one(n)
            plain_cpu = time.process_time() - plain_cpu
            invariant = (await c.get("/v1/stock/invariant", headers=operator)).json()
    print(f"{pairs} pairs in {elapsed:.2f} s: {elapsed / pairs * 1000:.2f} ms per pair (profiled, one client)")
    print(
        f"process CPU per pair: {plain_cpu / pairs * 1000:.2f} ms unprofiled (client included), "
        f"{cpu / pairs * 1000:.2f} ms profiled"
    )
    print(f"invariant holds: {invariant['holds']} {invariant.get('problems')}")
    print(f"SQL statements per pair: {sum(counted.values()) / pairs:.1f}")
    for statement, n in counted.most_common():
        print(f"  {n / pairs:5.2f}  {statement}")
    if not plain:
        stats = pstats.Stats(profiler).sort_stats("tottime")
        stats.print_stats(top)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--plain", action="store_true", help="no cProfile (e.g. under py-spy)")
    args = parser.parse_args()
    if args.sqlite:
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite+aiosqlite:///{tmp}/inventory.db"
            await asyncio.to_thread(upgrade, "inventory", url)
            await run(url, args.pairs, args.top, args.plain)
        return
    name = f"ektp_prof_inv_{uuid.uuid4().hex[:8]}"
    await admin(f'CREATE DATABASE "{name}"')
    try:
        url = f"postgresql+asyncpg://{PG['user']}@{PG['host']}:{PG['port']}/{name}"
        await asyncio.to_thread(upgrade, "inventory", url)
        await run(url, args.pairs, args.top, args.plain)
    finally:
        await admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    asyncio.run(main())
