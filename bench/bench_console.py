"""Console benchmark on PostgreSQL: the office console's calls against a whole regency, 250,000 print requests.

    .venv/bin/python -m bench.bench_console [--quick] [--pg-host 127.0.0.1] [--pg-port 5432] [--pg-user postgres]

What runs: the real request service (``create_app`` under uvicorn, one worker, in a child process started as
``python -m bench.bench_console``) on a fresh database migrated by alembic; the bench creates and drops it.

The database is Pesawaran (18.09) after five years, seeded by ``INSERT … SELECT generate_series``: 250,000
requests over its 11 kecamatan (as many as their villages), oldest first: 200,000 mostly collected, 8,000 printed
or activated in the last 20 days, then the newest 42,000: about 41,000 queued, some printing, needs_review,
cancelled. Photos and signatures sealed (the bench's own data key) where kept, empty where the retention purge
has been. About a million audit rows, each request's events in time order (chain columns filled, not sealed row
by row: the trail does not verify). Coverage figures, capacity; VACUUM ANALYZE and CHECKPOINT, as time would.

Measured: each call of the console's pages one after another, as a person clicks (200 of each, ``--quick`` 50,
after 5), varying kecamatan, request and NIK: the service's p50 / p95 / p99, and in turn with it the p95 of the
SELECTs its answer needs at minimum (as its repositories write them) through asyncpg: no HTTP, auth, ORM, nor the
access rows it commits for each look at residents. Goal: service p95 ≤ 200 ms each. The load average too.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NamedTuple

import asyncpg  # type: ignore[import-untyped]  # no stubs, no py.typed
import httpx
from rich.console import Console
from rich.table import Table

from services.common.auth import generate_key_pair, issue_token
from services.common.migrate import upgrade
from services.request.config import Settings
from services.request.context import ServiceContext
from services.request.privacy.keys import create_keys_file
from services.request.queue.policy import overdue_before
from services.request.regions.service import load_catalog
from tests.factories import PORTRAIT, SIGNATURE_SCAN

CATALOG = load_catalog("18.09")
KECAMATAN = list(CATALOG.kecamatan)
VILLAGES = sorted(CATALOG.villages.values(), key=lambda v: v.code)
NV = len(VILLAGES)
ROWS, RECENT, WAITING = 250_000, 50_000, 42_000  # all; printed lately or waiting; waiting (the newest)
OLD, FRESH = ROWS - RECENT, ROWS - WAITING  # the last of the old, of the lately printed
WARMUP, GOAL_MS = 5, 200.0  # calls not counted; the goal (p95, ms)
PHOTO, SIGNATURE = base64.b64decode(PORTRAIT), base64.b64decode(SIGNATURE_SCAN)
# Pesawaran, January 2015: residents recorded (perekaman), cards handed over before the system; obliged (est.)
RECORDED, COLLECTED_BEFORE, OBLIGED = 247_111, 216_800, 286_000

SEED_SQL = f"""
INSERT INTO print_requests (
    id, nik, name, birth_place, birth_date, sex, blood_type, address, rt, rw, village_code, kecamatan_code, religion,
    marital_status, occupation, citizenship, valid_until, photo, signature, images_purged_at, priority, reason, channel,
    old_ktp_seen, kk_copy_seen, status, status_note, queue_key, attempts, job_id, printer_id, lease_expires_at,
    card_serial, received_by, submitted_by, submitter_role, created_at, updated_at, printed_at, activated_at,
    collected_at)
SELECT gen_random_uuid()::text, replace(kecamatan, '.', '') || lpad((extract(day FROM birth)::int
        + CASE WHEN sex = 'F' THEN 40 ELSE 0 END)::text, 2, '0') || to_char(birth, 'MMYY') || lpad(v::text, 4, '0'),
    name, 'PESAWARAN', birth, sex, (ARRAY['A', 'B', 'AB', 'O', '-'])[1 + g % 5],
    'DUSUN ' || (1 + g % 9) || ' JL. RAYA', lpad((1 + g % 12)::text, 3, '0'), lpad((1 + g % 6)::text, 3, '0'),
    village, kecamatan, 'ISLAM', CASE WHEN g % 3 = 0 THEN 'BELUM KAWIN' ELSE 'KAWIN' END, 'PETANI/PEKEBUN', 'WNI',
    'SEUMUR HIDUP', ''::bytea, ''::bytea,  -- sealed below, where kept
    CASE WHEN ended <= now() - make_interval(days => $1::int) THEN ended + interval '1 day' END,  -- the daily purge
    priority, CASE WHEN priority = 'urgent' THEN (ARRAY['health', 'education', 'legal', 'travel', 'disaster'])
        [1 + (g / 10) % 5] ELSE (ARRAY['first_card', 'turned_17', 'status_change', 'address_change', 'data_correction',
        'damaged_card', 'lost_card'])[1 + (g / 10) % 7] END,
    channel, true, true, status, CASE WHEN status = 'needs_review' THEN 'card jammed in the printer' END,
    (extract(epoch FROM created) * 1000)::bigint - CASE WHEN priority = 'urgent' THEN $2::bigint ELSE 0 END,
    CASE WHEN status IN ('queued', 'cancelled') THEN 0 ELSE 1 END, CASE WHEN claimed IS NOT NULL THEN 'job-' || g END,
    CASE WHEN claimed IS NOT NULL THEN 'printer-1' END, CASE WHEN status = 'printing' THEN now() + interval '1 h' END,
    CASE WHEN printed IS NOT NULL THEN 'PSW' || lpad(g::text, 9, '0') END, CASE WHEN status = 'collected' THEN name END,
    CASE WHEN channel = 'walk_in' THEN 'desk-1' ELSE 'clerk-' || kecamatan END,
    CASE WHEN channel = 'walk_in' THEN 'operator' ELSE 'clerk' END,
    created, coalesce(ended, activated, printed, claimed, created), printed, activated, collected
FROM (
    SELECT *, CASE WHEN status = 'collected' THEN printed + interval '5 days' END AS collected,
        coalesce(CASE WHEN status = 'collected' THEN printed + interval '5 days' END,
                 CASE WHEN status = 'cancelled' THEN created + interval '3 days' END) AS ended,
        CASE WHEN status IN ('activated', 'collected') THEN least(printed + interval '3 hours', now()) END AS activated,
        CASE WHEN printed IS NOT NULL THEN printed - interval '10 minutes' WHEN status = 'printing'
             THEN now() - interval '5 minutes' WHEN status = 'needs_review' THEN now() - interval '1 day' END AS claimed
    FROM (
        SELECT *, CASE WHEN status NOT IN ('printed', 'activated', 'collected') THEN NULL
                       WHEN g <= {OLD} THEN created + (1 + h % 30) * interval '1 day'
                       ELSE least(created + interval '100.8 days', now()) END AS printed
        FROM (
            SELECT *, CASE
                WHEN g <= {OLD} THEN CASE WHEN h < 35 THEN 'cancelled' WHEN h < 115 THEN 'activated'
                                          WHEN h < 125 THEN 'printed' ELSE 'collected' END
                WHEN g <= {FRESH} THEN CASE WHEN h < 60 THEN 'cancelled' WHEN h < 500 THEN 'printed'
                                            ELSE 'activated' END
                ELSE CASE WHEN h < 1 THEN 'printing' WHEN h < 10 THEN 'needs_review' WHEN h < 25 THEN 'cancelled'
                          ELSE 'queued' END END AS status
            FROM (
                SELECT g, (g * 761) % 1000 AS h, g % {NV} AS v, ($3::text[])[1 + g % {NV}] AS village,
                    ($4::text[])[1 + g % {NV}] AS kecamatan, CASE WHEN g % 2 = 0 THEN 'F' ELSE 'M' END AS sex,
                    DATE '1955-01-01' + ((g / {NV}) * 11) % 19000 AS birth,
                    CASE WHEN g % 10 = 3 AND (g <= {FRESH} OR g > {ROWS} - 2000) THEN 'urgent' ELSE 'regular' END
                        AS priority,
                    CASE WHEN g % 20 < 12 THEN 'kecamatan_batch' WHEN g % 20 < 18 THEN 'walk_in'
                         WHEN g % 20 = 18 THEN 'mobile_unit' ELSE 'partner' END AS channel,
                    CASE WHEN g <= {OLD} THEN now() - interval '120 days' - ({OLD} - g) * interval '10 minutes'
                         ELSE now() - ({ROWS} - g) * interval '120 days' / {RECENT} END AS created,
                    (ARRAY['SITI AMINAH', 'BUDI SANTOSO', 'SRI WAHYUNI', 'AHMAD FAUZI', 'NUR HASANAH', 'SUPRIYADI',
                           'DEWI LESTARI', 'RAHMAT HIDAYAT'])[1 + g % 8] AS name
                FROM generate_series(1, {ROWS}) AS g) AS a) AS b) AS c) AS d
"""


CARD = ("p.job_id", "p.card_serial")


def state(status: str, attempts: int, job: str = "NULL", serial: str = "NULL") -> str:
    """A request's state in its audit rows (print_requests/service.py ``audit_state``), in SQL."""
    return f"json_build_object('status', '{status}', 'attempts', {attempts}, 'job_id', {job}, 'card_serial', {serial})"


QUEUED, PRINTING, CANCELLED = state("queued", 0), state("printing", 1, "p.job_id"), state("cancelled", 0)
PRINTED, ACTIVATED, COLLECTED = (state(s, 1, *CARD) for s in ("printed", "activated", "collected"))
AUDIT_SQL = f"""
INSERT INTO audit_events (at, actor, actor_role, action, object_type, object_id, before, after, seq, prev_hash, hash)
SELECT at, actor, role, action, 'print_request', id, before, after, n, md5((n - 1)::text) || md5('#' || (n - 1)),
       md5(n::text) || md5('#' || n)
FROM (
    SELECT e.*, p.id, row_number() OVER (ORDER BY e.at) AS n
    FROM print_requests AS p CROSS JOIN LATERAL (VALUES
        (p.created_at, p.submitted_by, p.submitter_role, 'request.created', NULL, {QUEUED}),
        (CASE WHEN p.job_id IS NOT NULL THEN coalesce(p.printed_at - interval '10 minutes', p.updated_at) END,
         'gateway', 'service', 'queue.claimed', {QUEUED}, {PRINTING}),
        (p.printed_at, 'gateway', 'service', 'queue.printed', {PRINTING}, {PRINTED}),
        (p.activated_at, 'desk-1', 'operator', 'request.activated', {PRINTED}, {ACTIVATED}),
        (p.collected_at, 'desk-1', 'operator', 'request.collected', {ACTIVATED}, {COLLECTED}),
        (CASE WHEN p.status = 'cancelled' THEN p.updated_at END, p.submitted_by, p.submitter_role,
         'request.cancelled', {QUEUED}, {CANCELLED})
    ) AS e(at, actor, role, action, before, after)
    WHERE e.at IS NOT NULL) AS events
ORDER BY n
"""


def start(url: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "bench.bench_console", "--serve", "--url", url, "--port", str(port)]
    process = subprocess.Popen(command, env=env, cwd=Path(__file__).resolve().parent.parent)
    for _ in range(1200):  # two minutes: the retention purge's first run reads the table
        if process.poll() is not None:
            raise RuntimeError(f"the request service exited with {process.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        time.sleep(0.1)
    process.kill()
    raise TimeoutError("the request service did not start")


async def seed(connection: asyncpg.Connection, context: ServiceContext) -> int:
    """The regency's requests with their images, audit trail, coverage figures and capacity; the audit rows."""
    settings, villages = context.settings, ([v.code for v in VILLAGES], [v.kecamatan_code for v in VILLAGES])
    head_start_ms = round(settings.urgent_head_start_hours * 3_600_000)
    await connection.execute(SEED_SQL, settings.retention_days, head_start_ms, *villages, timeout=900)
    # Sealed under each request's id (their associated data), so here; the purged keep theirs empty.
    sealed = []
    for (request_id,) in await connection.fetch("SELECT id FROM print_requests WHERE images_purged_at IS NULL"):
        values: dict[str, Any] = {"id": request_id, "photo": PHOTO, "signature": SIGNATURE}
        context.keyring.seal_images(values)
        sealed.append((request_id, values["photo"], values["signature"], values["data_key_id"]))
    await connection.execute("CREATE TEMP TABLE sealed (id text, photo bytea, signature bytea, data_key_id text)")
    await connection.copy_records_to_table("sealed", records=sealed)
    images = "photo = s.photo, signature = s.signature, data_key_id = s.data_key_id"
    await connection.execute(f"UPDATE print_requests AS p SET {images} FROM sealed AS s WHERE p.id = s.id")
    async with connection.transaction():
        await connection.execute("SET LOCAL session_replication_role = replica")  # no sealing trigger, row by row
        audited = int((await connection.execute(AUDIT_SQL, timeout=900)).split()[-1])
    shares = {code: sum(v.kecamatan_code == code for v in VILLAGES) / len(VILLAGES) for code in KECAMATAN}
    await connection.executemany(
        "INSERT INTO coverage_figures (kecamatan_code, obliged, recorded, collected_before, updated_at, updated_by) "
        "VALUES ($1, $2, $3, $4, now(), 'bench')",
        [(c, round(OBLIGED * s), round(RECORDED * s), round(COLLECTED_BEFORE * s)) for c, s in shares.items()],
    )
    await connection.execute("INSERT INTO queue_capacity VALUES (1, 50, 2, now(), 'bench-gateway')")
    await connection.execute("VACUUM ANALYZE", timeout=900)
    await connection.execute("CHECKPOINT", timeout=900)
    return audited


Fields = dict[str, Any]  # what the i-th call of each kind asks about (``fields`` in ``run``)
Statement = tuple[str, list[Any]]  # SQL and its values
Statements = Callable[[Fields], list[Statement]]


class Call(NamedTuple):
    name: str
    path: str  # with {k} a kecamatan, {n} a NIK, {q} a queued request, {r} any request
    sql: Statements  # the reads its answer needs, as the service's repositories write them
    admin: bool = False


def listed(name: str, query: str, where: str, *values: str) -> Call:
    """A ``GET /v1/requests`` and ``repository.list_requests``' SQL: how many match, then the page, newest first."""
    given = dict(part.split("=") for part in query.split("&"))
    limit, offset = int(given.get("limit", 50)), int(given.get("offset", 0))
    count = f"SELECT count(*) FROM print_requests WHERE {where}"
    n = len(values)
    page = f"SELECT * FROM print_requests WHERE {where} ORDER BY created_at DESC, id LIMIT ${n + 1} OFFSET ${n + 2}"

    def sql(fields: Fields) -> list[Statement]:
        filled = [value.format(**fields) for value in values]
        return [(count, filled), (page, [*filled, limit, offset])]

    return Call(name, "/v1/requests?" + query, sql)


CAPACITY: Statement = ("SELECT * FROM queue_capacity WHERE id = $1", [1])
AHEAD = "SELECT count(*) FROM print_requests WHERE status = 'queued' AND (queue_key < $1 OR queue_key = $1 AND id < $2)"
COUNTS: Statement = ("SELECT kecamatan_code, status, count(*) FROM print_requests GROUP BY 1, 2", [])
BY_STATUS = "SELECT status, priority, count(*) FROM print_requests WHERE status IN ($1, $2, $3) GROUP BY 1, 2"
REQUEST = "SELECT * FROM print_requests WHERE id = $1"
AUDIT = "SELECT {} FROM audit_events WHERE object_type = $1 AND object_id = $2"
HISTORY = AUDIT.format("id, at, actor, actor_role, action, object_type, object_id, before, after")


def calls(context: ServiceContext) -> list[Call]:
    """Every call of the console's pages, with the SQL of each."""
    before = overdue_before(context.settings, context.clock())
    reasons = " OR ".join(f"(reason = ${2 * n + 3} AND created_at < ${2 * n + 4})" for n in range(len(before)))
    overdue: Statement = (
        f"SELECT kecamatan_code, count(*) FROM print_requests WHERE status IN ($1, $2) AND ({reasons}) GROUP BY 1",
        ["queued", "printing", *(value for pair in before.items() for value in pair)],
    )
    midnight = dt.datetime.combine(context.today(), dt.time(), tzinfo=context.timezone).astimezone(dt.UTC)
    printed_today: Statement = ("SELECT count(*) FROM print_requests WHERE printed_at >= $1", [midnight])

    def one(f: Fields) -> list[Statement]:  # GET /v1/requests/{id} and …/queue: the request, those ahead
        return [(REQUEST, [f["q"]]), (AHEAD, [f["key"], f["q"]]), CAPACITY]

    def trail(f: Fields) -> list[Statement]:  # GET /v1/audit (admin): how many, then the page, newest first
        page = HISTORY + " ORDER BY id DESC LIMIT $3 OFFSET $4"
        return [(AUDIT.format("count(*)"), ["print_request", f["r"]]), (page, ["print_request", f["r"], 50, 0])]

    both = "status = $1 AND kecamatan_code = $2"
    stats = [(BY_STATUS, ["queued", "printing", "needs_review"]), overdue, printed_today, CAPACITY]
    # fmt: off
    return [
        listed("queued, newest first", "status=queued&limit=100", "status = $1", "queued"),
        listed("a kecamatan", "kecamatan={k}&limit=100", "kecamatan_code = $1", "{k}"),
        listed("a kecamatan's queued", "status=queued&kecamatan={k}&limit=100", both, "queued", "{k}"),
        listed("queued, a deep page", "status=queued&limit=100&offset=20000", "status = $1", "queued"),
        listed("a kecamatan, a deep page", "kecamatan={k}&limit=100&offset=20000", "kecamatan_code = $1", "{k}"),
        listed("everything, a deep page", "limit=100&offset=20000", "true"),
        listed("NIK search (operator)", "nik={n}&purpose=pelayanan", "nik = $1", "{n}"),
        Call("a queued request's page", "/v1/requests/{q}?purpose=pelayanan", one),
        Call("its queue position and date", "/v1/requests/{q}/queue", one),
        Call("coverage", "/v1/coverage", lambda f: [("SELECT * FROM coverage_figures", []), COUNTS, overdue]),
        Call("queue stats", "/v1/queue/stats", lambda f: stats),
        Call("its timeline (any request)", "/v1/requests/{r}/history",
             lambda f: [(REQUEST, [f["r"]]), (HISTORY + " ORDER BY id", ["print_request", f["r"]])]),
        Call("its audit trail (admin)", "/v1/audit?object_type=print_request&object_id={r}", trail, True),
    ]
    # fmt: on


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def timed(steps: list[Callable[[int], Awaitable[Any]]], count: int) -> list[list[float]]:
    """Seconds each of ``count`` calls of each step took, the steps in turn (a slow spell of the machine falls on
    all of them), after ``WARMUP`` rounds not counted."""
    latencies: list[list[float]] = [[] for _ in steps]
    for i in range(-WARMUP, count):
        for step, into in zip(steps, latencies, strict=True):
            started = time.perf_counter()
            await step(i % count)
            if i >= 0:
                into.append(time.perf_counter() - started)
    return latencies


async def run(args: argparse.Namespace) -> int:
    console = Console(width=180)
    database = f"ektp_bench_console_{os.getpid()}"
    server = f"{args.pg_user}@{args.pg_host}:{args.pg_port}/"
    url = f"postgresql+asyncpg://{server}{database}"
    keys = generate_key_pair()
    tokens = [issue_token(keys.private_pem, role=role, subject=f"bench-{role}") for role in ("operator", "admin")]
    headers = [{"Authorization": f"Bearer {token}"} for token in tokens]
    clients: list[httpx.AsyncClient] = []
    data_keys = Path(tempfile.mkdtemp(prefix="ektp-bench-keys-")) / "data-keys.json"
    create_keys_file(data_keys)
    # One operator stands in for the office's desks: no per-caller rate limit.
    env = dict(os.environ, EKTP_REQUEST_JWT_PUBLIC_KEY=keys.public_pem.decode(), EKTP_REQUEST_RATE_LIMITS="{}")
    env["EKTP_REQUEST_DATA_KEYS_FILE"] = str(data_keys)
    context = ServiceContext.from_settings(Settings(database_url=url, data_keys_file=data_keys))
    count = 50 if args.quick else 200
    columns = ("call", "GET", "service p50 / p95 / p99", "raw SQL p95", "goal", "ok")
    table = Table(*columns, title=f"office console on PostgreSQL: {ROWS:,} requests, {count} calls of each in a row")

    began = time.perf_counter()
    process: subprocess.Popen[bytes] | None = None
    postgres = await asyncpg.connect(f"postgresql://{server}postgres")
    await postgres.execute(f'CREATE DATABASE "{database}"')
    connection = None
    try:
        await asyncio.to_thread(upgrade, "request", url)
        console.print(f"[bold]seeding[/] {ROWS:,} requests of {len(KECAMATAN)} kecamatan and their audit trail …")
        connection = await asyncpg.connect(f"postgresql://{server}{database}")
        audited = await seed(connection, context)
        counts = await connection.fetch("SELECT status, count(*) FROM print_requests GROUP BY 1 ORDER BY 2 DESC")
        statuses = ", ".join(f"{s} {n:,}" for s, n in counts)
        table.caption = f"seeded in {time.perf_counter() - began:.0f} s: {statuses}; {audited:,} audit rows"
        pick = "SELECT {} FROM print_requests {} ORDER BY random() LIMIT $1"
        queued = await connection.fetch(pick.format("id, queue_key", "WHERE status = 'queued'"), count)
        niks = await connection.fetch(pick.format("nik", ""), count)
        requests = await connection.fetch(pick.format("id", ""), count)

        def fields(i: int) -> Fields:  # what the i-th call of each kind asks about
            q, key = queued[i % len(queued)]
            return {"k": KECAMATAN[i % len(KECAMATAN)], "n": niks[i % len(niks)][0], "q": q, "key": key,
                    "r": requests[i % len(requests)][0]}  # fmt: skip

        process = start(url, args.port, env)
        base = f"http://127.0.0.1:{args.port}"
        clients.extend(httpx.AsyncClient(base_url=base, timeout=60, headers=h) for h in headers)
        answers: list[int] = []
        load = os.getloadavg()[0]
        for call in [Call("the floor", "/healthz", lambda f: []), *calls(context)]:
            console.print(f"[bold]measuring[/] {call.name} …")

            async def get(i: int, path: str = call.path, http: httpx.AsyncClient = clients[call.admin]) -> None:
                answers.append((await http.get(path.format(**fields(i)))).status_code)

            async def read(i: int, sql: Statements = call.sql) -> None:
                for statement, values in sql(fields(i)):
                    await connection.fetch(statement, *values)

            latencies, raw = await timed([get, read], count)
            errors = sum(answer != 200 for answer in answers[-count:])
            p50, p95, p99 = (percentile(latencies, q) for q in (0.5, 0.95, 0.99))
            load = max(load, os.getloadavg()[0])
            shown = call.path.format(k="18.09.0X", n="…", q="{id}", r="{id}")
            service = f"{p50:.1f} / {p95:.1f} / {p99:.1f} ms" + (f", {errors} errors" if errors else "")
            if call.path == "/healthz":  # what any call costs on this machine, before its work
                table.add_row(call.name, shown, service)
                continue
            ok = "✓" if p95 <= GOAL_MS and not errors else "✗"
            table.add_row(call.name, shown, service, f"{percentile(raw, 0.95):.1f} ms", f"p95 ≤ {GOAL_MS:.0f} ms", ok)
    finally:
        for client in clients:
            await client.aclose()
        if connection is not None:
            await connection.close()
        if process is not None:
            process.terminate()
            process.wait(10)
        await postgres.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await postgres.close()
        data_keys.unlink(missing_ok=True)
        data_keys.parent.rmdir()
    console.print(table)
    took, cores = time.perf_counter() - began, os.cpu_count()
    console.print(f"the whole bench: {took:.0f} s; the highest 1-minute load average {load:.1f} ({cores} cores)")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 calls of each, not 200 (the same 250,000 requests)")
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--port", type=int, default=18711, help="the request service's port")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:  # the request service, in the child process
        import uvicorn

        from services.request.app import create_app

        app = create_app(Settings(database_url=args.url, log_level="WARNING"))
        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False, log_config=None)
        return 0
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
