"""Request-service benchmarks on PostgreSQL: submissions against a bare insert, a 41,000-row batch, claim latency.

    .venv/bin/python bench/bench_request.py [--quick] [--pg-host 127.0.0.1] [--pg-port 5432] [--pg-user postgres]

What runs: the real request service (``create_app`` under uvicorn, one worker, in a child process) on a
fresh database migrated by alembic, and, in a second child process, a bare FastAPI app that inserts the same
JSON body into the same table with one INSERT and no auth, validation, idempotency, queue key or audit. The
bench creates and drops its own databases.

1. ``POST /v1/requests`` vs the bare insert: 16 concurrent clients, in five rounds that alternate the two (a
   slow spell of the shared machine then falls on both); rps (median round), p50, p99, errors, the ratio
   (median of the rounds' ratios), and the CPU each call costs the server, PostgreSQL and this load
   generator: all three share the machine's cores, so the rps ratio is that of the three sums. Goals:
   ≥ 0.8× the bare rps, p99 ≤ 250 ms, 0 errors.
2. One 41,000-row kecamatan batch as text/csv (goal ≤ 10 s).
3. Claim latency (``POST /v1/queue/claims`` one after another) with 10k, 100k and 1M requests queued,
   seeded by ``INSERT … SELECT generate_series`` (goal p99 ≤ 10 ms).

Photos and signatures are sealed at rest (AES-256-GCM, services/request/privacy/keys.py) in every submission
above, as in production; a last row gives what sealing one request's photo and signature, and opening them for a
claim, costs on its own, beside the server's CPU per call.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import csv
import datetime as dt
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import psutil
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from rich.console import Console
from rich.table import Table
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import create_async_engine

from services.common.auth import generate_key_pair, issue_token
from services.common.migrate import upgrade
from services.request.models import PrintRequest
from services.request.privacy.keys import Keyring, create_keys_file
from services.request.regions.service import load_catalog
from tests.factories import PORTRAIT as PHOTO
from tests.factories import SIGNATURE_SCAN as SIGNATURE
from tests.factories import resident

ROOT = Path(__file__).resolve().parent.parent

ROUNDS = 5
CATALOG = load_catalog("18.09")
KECAMATAN = list(CATALOG.kecamatan)


# --- the bare baseline app (run in a child process) ---------------------------------------------------------


def bare_app(url: str) -> FastAPI:
    """One INSERT of the posted JSON into the same table, nothing else."""
    app = FastAPI()
    # The service's own pool settings (services.common.settings), and no ping per checkout: nothing extra.
    engine = create_async_engine(url, pool_size=20, max_overflow=5)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/bare")
    async def bare(request: Request) -> JSONResponse:
        body = await request.json()
        now = dt.datetime.now(dt.UTC)
        body["photo"] = base64.b64decode(body["photo"])
        body["signature"] = base64.b64decode(body["signature"])
        body["birth_date"] = dt.date.fromisoformat(body["birth_date"])
        values = dict(
            body,
            id=str(uuid.uuid4()),
            priority="regular",
            status="queued",
            queue_key=0,
            attempts=0,
            submitted_by="bench",
            submitter_role="operator",
            created_at=now,
            updated_at=now,
        )
        async with engine.begin() as connection:
            await connection.execute(insert(PrintRequest), values)
        return JSONResponse({"id": values["id"], "status": "queued"}, status_code=201)

    return app


def serve(kind: str, url: str, port: int) -> None:
    import uvicorn

    if kind == "bare":
        app = bare_app(url)
    else:
        from services.request.app import create_app
        from services.request.config import Settings

        app = create_app(Settings(database_url=url, log_level="WARNING"))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, log_config=None)


# --- helpers ------------------------------------------------------------------------------------------------


@dataclass
class Pg:
    host: str
    port: int
    user: str

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://{self.user}@{self.host}:{self.port}/{database}"

    async def admin(self, sql: str) -> None:
        connection = await asyncpg.connect(host=self.host, port=self.port, user=self.user, database="postgres")
        try:
            await connection.execute(sql)
        finally:
            await connection.close()

    async def connect(self, database: str) -> asyncpg.Connection:
        return await asyncpg.connect(host=self.host, port=self.port, user=self.user, database=database)


def start(kind: str, url: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.bench_request", "--serve", kind, "--url", url, "--port", str(port)],
        env=env,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the {kind} server exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.TransportError:
            time.sleep(0.1)
    process.kill()
    raise TimeoutError(f"the {kind} server did not start")


def sealing_cost(data_keys: Path, rounds: int = 2000) -> tuple[float, float]:
    """Milliseconds to seal a request's photo and signature (intake) and to open them again (a claim)."""
    ring = Keyring(data_keys)
    request_id = str(uuid.uuid4())
    photo, signature = base64.b64decode(PHOTO), base64.b64decode(SIGNATURE)
    started = time.perf_counter()
    for _ in range(rounds):
        values: dict[str, Any] = {"id": request_id, "photo": photo, "signature": signature}
        ring.seal_images(values)
    sealed = time.perf_counter()
    for _ in range(rounds):
        for field in ("photo", "signature"):
            ring.open(values[field], request_id=request_id, field=field, key_id=values["data_key_id"])
    opened = time.perf_counter()
    return 1000 * (sealed - started) / rounds, 1000 * (opened - sealed) / rounds


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


@dataclass
class Load:
    rps: float
    p50: float
    p99: float
    errors: int
    count: int
    latencies: list[float]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    """User + system CPU seconds of ``processes`` so far (a process that ended meanwhile counts 0)."""
    total = 0.0
    for process in processes:
        with contextlib.suppress(psutil.Error):
            total += sum(process.cpu_times()[:2])
    return total


def postgres() -> list[psutil.Process]:
    """The PostgreSQL server's processes on this machine (the postmaster and its backends)."""
    return [p for p in psutil.process_iter(["name"]) if (p.info["name"] or "").startswith("postgres")]


def own() -> float:
    return cpu_seconds([psutil.Process()])


def merged(rounds: list[Load]) -> Load:
    """The rounds as one: the median round's rps; p50 and p99 over every call of every round."""
    latencies = [latency for one in rounds for latency in one.latencies]
    return Load(
        rps=statistics.median(one.rps for one in rounds),
        p50=percentile(latencies, 0.5) * 1000,
        p99=percentile(latencies, 0.99) * 1000,
        errors=sum(one.errors for one in rounds),
        count=len(latencies),
        latencies=latencies,
    )


async def load(url: str, bodies: Iterator[dict[str, Any]], total: int, clients: int, token: str | None) -> Load:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    latencies: list[float] = []
    errors = 0
    lock = asyncio.Lock()

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors
        while True:
            async with lock:
                body = next(bodies, None)
            if body is None:
                return
            started = time.perf_counter()
            try:
                response = await http.post(url, json=body)
                ok = response.status_code == 201
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - started)
            if not ok:
                errors += 1

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=30) as http:
        started = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(clients)))
        wall = time.perf_counter() - started
    return Load(
        rps=len(latencies) / wall,
        p50=percentile(latencies, 0.5) * 1000,
        p99=percentile(latencies, 0.99) * 1000,
        errors=errors,
        count=len(latencies),
        latencies=latencies,
    )


SEED_SQL = """
INSERT INTO print_requests (
    id, nik, name, birth_place, birth_date, sex, blood_type, address, rt, rw, village_code, kecamatan_code,
    religion, marital_status, occupation, citizenship, valid_until, photo, signature, priority, reason, channel,
    old_ktp_seen, kk_copy_seen, status, queue_key, attempts, submitted_by, submitter_role, created_at, updated_at)
SELECT
    gen_random_uuid()::text, lpad(($1::bigint + g)::text, 16, '0'), 'BUDI SANTOSO', 'PESAWARAN', DATE '1990-05-17',
    'M', 'O', 'JL. RAYA', '001', '002', '18.09.01.2001', '18.09.01', 'ISLAM', 'KAWIN', 'PETANI', 'WNI',
    'SEUMUR HIDUP', $2::bytea, $3::bytea,
    CASE WHEN g % 10 = 0 THEN 'urgent' ELSE 'regular' END, 'first_card', 'kecamatan_batch', true, true, 'queued',
    (extract(epoch FROM now()) * 1000)::bigint + (random() * 86400000 * 100)::bigint
        - CASE WHEN g % 10 = 0 THEN 2592000000 ELSE 0 END,
    0, 'bench', 'operator', now(), now()
FROM generate_series(1, $4::bigint) AS g
"""


async def seed(pg: Pg, database: str, start_at: int, count: int) -> float:
    connection = await pg.connect(database)
    try:
        started = time.perf_counter()
        await connection.execute(
            SEED_SQL, start_at, base64.b64decode(PHOTO), base64.b64decode(SIGNATURE), count, timeout=600
        )
        await connection.execute("ANALYZE print_requests")
        return time.perf_counter() - started
    finally:
        await connection.close()


CLAIM_QUERY = (
    "SELECT * FROM print_requests WHERE status = 'queued' ORDER BY queue_key, id LIMIT 1 FOR UPDATE SKIP LOCKED"
)


async def explain_claim(pg: Pg, database: str) -> tuple[float, str]:
    """The claim's SELECT as PostgreSQL runs it: execution time and the index it uses."""
    connection = await pg.connect(database)
    try:
        async with connection.transaction():
            plan = await connection.fetchval(f"EXPLAIN (ANALYZE, FORMAT JSON) {CLAIM_QUERY}")
    finally:
        await connection.close()
    import json

    document = json.loads(plan)[0]

    def index(node: dict[str, Any]) -> str:
        if "Index Name" in node:
            return str(node["Index Name"])
        return next((found for child in node.get("Plans", []) if (found := index(child))), "")

    return float(document["Execution Time"]), index(document["Plan"]) or "no index"


async def floor_latency(base: str, count: int) -> tuple[float, float]:
    """GET /healthz one after another: what any call to this server costs on this machine."""
    latencies: list[float] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        for _ in range(count):
            started = time.perf_counter()
            await http.get("/healthz")
            latencies.append(time.perf_counter() - started)
    return percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000


async def claim_latency(base: str, token: str, claims: int, tag: str) -> tuple[float, float, int]:
    latencies: list[float] = []
    errors = 0
    async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
        for n in range(claims + 20):
            started = time.perf_counter()
            response = await http.post("/v1/queue/claims", json={"job_id": f"job_{tag}_{n}", "printer_id": "bench"})
            if n >= 20:  # warm-up
                latencies.append(time.perf_counter() - started)
                errors += response.status_code != 201
    return percentile(latencies, 0.5) * 1000, percentile(latencies, 0.99) * 1000, errors


def batch_csv(first: int, rows: int) -> bytes:
    buffer = io.StringIO()
    writer: Any = None
    for number in range(first, first + rows):
        row = resident(number)
        row.update(channel="kecamatan_batch", reason="status_change")
        if writer is None:
            writer = csv.DictWriter(buffer, fieldnames=list(row))
            writer.writeheader()
        writer.writerow({k: ("true" if v is True else v) for k, v in row.items()})
    return buffer.getvalue().encode()


# --- the run ------------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> int:
    console = Console(width=160)
    pg = Pg(args.pg_host, args.pg_port, args.pg_user)
    tag = uuid.uuid4().hex[:8]
    app_db, bare_db = f"ektp_bench_request_{tag}", f"ektp_bench_bare_{tag}"
    keys = generate_key_pair()
    operator = issue_token(keys.private_pem, role="operator", subject="bench-desk")
    gateway = issue_token(keys.private_pem, role="service", subject="bench-gateway")
    # Photos and signatures sealed under a data key of the bench's own, as every office's are.
    keys_dir = Path(tempfile.mkdtemp(prefix="ektp-bench-keys-"))
    data_keys = keys_dir / "data-keys.json"
    create_keys_file(data_keys)
    # One operator stands in for a whole office's desks here: no per-caller rate limit.
    env = dict(
        os.environ,
        EKTP_REQUEST_JWT_PUBLIC_KEY=keys.public_pem.decode(),
        EKTP_REQUEST_RATE_LIMITS="{}",
        EKTP_REQUEST_DATA_KEYS_FILE=str(data_keys),
    )
    posts = 600 if args.quick else 2000
    sizes = [10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000]
    batch_rows = 41_000
    table = Table(title="request service on PostgreSQL")
    for column in ("what", "measure", "value", "goal", "ok"):
        table.add_column(column)

    processes: list[subprocess.Popen[bytes]] = []
    for database in (app_db, bare_db):
        await pg.admin(f'CREATE DATABASE "{database}"')
    try:
        await asyncio.to_thread(upgrade, "request", pg.url(app_db))
        await asyncio.to_thread(upgrade, "request", pg.url(bare_db))
        processes.append(start("request", pg.url(app_db), args.port, env))
        processes.append(start("bare", pg.url(bare_db), args.port + 1, env))
        app_url, bare_url = f"http://127.0.0.1:{args.port}", f"http://127.0.0.1:{args.port + 1}"

        # 1. submissions: warm both up, then rounds that alternate bare and real, so that a slow spell of the
        # shared machine falls on both; the medians of the rounds and of their ratios are reported.
        console.print(f"[bold]1.[/] {posts} submissions each, 16 clients, {ROUNDS} alternating rounds …")
        numbers = iter(range(10**6))
        await load(f"{bare_url}/bare", (resident(next(numbers)) for _ in range(200)), 200, 16, None)
        await load(f"{app_url}/v1/requests", (resident(next(numbers)) for _ in range(200)), 200, 16, operator)
        per_round = posts // ROUNDS
        bare_rounds: list[Load] = []
        real_rounds: list[Load] = []
        # CPU per call of each party (ms): the server, PostgreSQL (all its processes) and this load generator.
        cpu = {(kind, party): 0.0 for kind in ("bare", "real") for party in ("server", "pg", "client")}
        servers = {"real": psutil.Process(processes[0].pid), "bare": psutil.Process(processes[1].pid)}
        for _ in range(ROUNDS):
            for kind, url, token, rounds in (
                ("bare", f"{bare_url}/bare", None, bare_rounds),
                ("real", f"{app_url}/v1/requests", operator, real_rounds),
            ):
                before = {"server": cpu_seconds([servers[kind]]), "pg": cpu_seconds(postgres()), "client": own()}
                bodies = (resident(next(numbers)) for _ in range(per_round))
                rounds.append(await load(url, bodies, per_round, 16, token))
                after = {"server": cpu_seconds([servers[kind]]), "pg": cpu_seconds(postgres()), "client": own()}
                for party in before:
                    cpu[kind, party] += 1000 * (after[party] - before[party]) / (per_round * ROUNDS)
        bare, real = merged(bare_rounds), merged(real_rounds)
        ratio = statistics.median(r.rps / b.rps for b, r in zip(bare_rounds, real_rounds, strict=True))
        for name, kind, measured, goal, ok in (
            ("bare insert", "bare", bare, "", ""),
            ("POST /v1/requests", "real", real, "p99 ≤ 250 ms", "✓" if real.p99 <= 250 else "✗"),
        ):
            table.add_row(
                name, "rps / p50 / p99", f"{measured.rps:.0f} / {measured.p50:.1f} / {measured.p99:.1f} ms", goal, ok
            )
            table.add_row(
                "",
                "CPU a call: server / PostgreSQL / client",
                " / ".join(f"{cpu[kind, party]:.2f}" for party in ("server", "pg", "client")) + " ms",
                "",
                "",
            )
        spread = ", ".join(f"{r.rps / b.rps:.2f}" for b, r in zip(bare_rounds, real_rounds, strict=True))
        table.add_row(
            "POST /v1/requests",
            "ratio to bare (median of rounds)",
            f"{ratio:.2f}× ({spread})",
            "≥ 0.8×",
            "✓" if ratio >= 0.8 else "✗",
        )
        table.add_row(
            "POST /v1/requests", "errors", f"{real.errors} of {real.count}", "0", "✓" if real.errors == 0 else "✗"
        )
        seal_ms, open_ms = sealing_cost(data_keys)
        table.add_row(
            "  of which sealing at rest",
            "seal at intake / open at claim, a request",
            f"{seal_ms:.3f} / {open_ms:.3f} ms ({100 * seal_ms / cpu['real', 'server']:.1f} % of the server's CPU)",
            "",
            "",
        )

        console.print(table)

        # 2. the 41,000-row batch
        console.print(f"[bold]2.[/] a {batch_rows}-row batch …")
        content = batch_csv(500_000, batch_rows)
        async with httpx.AsyncClient(base_url=app_url, headers={"Authorization": f"Bearer {operator}"}) as http:
            started = time.perf_counter()
            response = await http.post(
                "/v1/batches", content=content, headers={"Content-Type": "text/csv"}, timeout=300
            )
            took = time.perf_counter() - started
        accepted = response.json().get("accepted_rows") if response.status_code == 201 else response.text[:200]
        table.add_row(
            f"batch of {batch_rows} rows ({len(content) / 1e6:.0f} MB CSV)",
            "time (accepted)",
            f"{took:.1f} s ({accepted})",
            "≤ 10 s",
            "✓" if took <= 10 and accepted == batch_rows else "✗",
        )

        console.print(table)

        # 3. claim latency with a growing queue
        connection = await pg.connect(app_db)
        await connection.execute("TRUNCATE queue_jobs, print_requests, audit_events, batch_errors CASCADE")
        await connection.close()
        floor50, floor99 = await floor_latency(app_url, 300)
        table.add_row("GET /healthz (the floor)", "p50 / p99", f"{floor50:.1f} / {floor99:.1f} ms", "", "")
        queued = made = 0
        for size in sizes:
            console.print(f"[bold]3.[/] claims with {size:,} queued (seeding …)")
            seeded = await seed(pg, app_db, 10**15 + made, size - queued)
            made += size - queued
            queued = size
            p50, p99, errors = await claim_latency(app_url, gateway, 200 if args.quick else 500, f"{size}")
            executed, index_name = await explain_claim(pg, app_db)
            queued -= (200 if args.quick else 500) + 20
            table.add_row(
                f"claim, {size:,} queued (seeded in {seeded:.0f} s)",
                "p50 / p99",
                f"{p50:.1f} / {p99:.1f} ms" + (f", {errors} errors" if errors else ""),
                "p99 ≤ 10 ms",
                "✓" if p99 <= 10 and not errors else "✗",
            )
            table.add_row(
                f"  its SELECT … SKIP LOCKED, {size:,} queued",
                "in PostgreSQL",
                f"{executed:.2f} ms ({index_name})",
                "",
                "",
            )
    finally:
        for process in processes:
            process.terminate()
            process.wait(10)
        for database in (app_db, bare_db):
            await pg.admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        data_keys.unlink(missing_ok=True)
        keys_dir.rmdir()
    console.print(table)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer submissions; queues of 10k and 100k only")
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--port", type=int, default=18701, help="the request service's port (bare: port + 1)")
    parser.add_argument("--serve", choices=["request", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.url, args.port)
        return 0
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
