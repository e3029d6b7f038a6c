"""Webhook benchmark on PostgreSQL: the outbox's delivery worker against a fast receiver and a bare client.

    .venv/bin/python -m bench.bench_webhooks [--quick] [--pg-host 127.0.0.1] [--pg-port 5432] [--pg-user postgres]

What runs: the real request service (``create_app`` under uvicorn, one worker, in a child process started as
``python -m bench.bench_webhooks``, its delivery worker as configured: ``EKTP_REQUEST_WEBHOOK_*`` change it) on a
fresh database migrated by alembic, which the bench creates and drops; in another child, a receiver: a bare ASGI app
under uvicorn answering 204 at once, keeping each message's ``webhook-id``, arrival time and body (each verified
on arrival with ``standardwebhooks``, as a partner would). A partner is registered (``POST /v1/partners``) with the
receiver as its callback and gets a token by client credentials. N = 5,000 requests a phase (``--quick`` 1,000).

1. Through the claim API: 16 lanes, each inserting a partner request by SQL (the migration's triggers add its
   ``queued`` event), then taking the queue's head through ``POST /v1/queue/claims``, ``…/sent``, ``…/printed``
   (``printing``, ``printed``) as fast as the service answers. The latency of each event from its change
   (``data.occurred_at``) to its receipt, delivered against expected, duplicates, order violations (an event
   received after a later one of its request), signatures. Goals: p99 ≤ 2 s, all delivered, 0, 0.
2. At the goal's pace: N more through the same statuses by SQL alone (the triggers fire whatever changed the row),
   600 changes a second, more than the claim API makes on a small machine: deliveries a second (the events over the
   time from the first change to the last receipt), latency. Goals: ≥ 500/s, p99 ≤ 2 s.
3. A backlog: N requests inserted at once (N heads): how fast the worker drains it, and the CPU a delivery costs the
   service, PostgreSQL (this database's backends) and the receiver.
4. The ceiling: the receiver, phase 1's bodies signed anew and POSTed by bare ``httpx``, ``webhook_concurrency``
   (32) at once: through one client (one connection pool, as the worker has), and four clients of 8 connections.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs, no py.typed
import httpx
import psutil  # type: ignore[import-untyped]  # no stubs installed
from rich.console import Console
from rich.table import Table
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from services.common.auth import generate_key_pair, issue_token
from services.common.migrate import upgrade
from services.request.config import Settings
from services.request.privacy.keys import create_keys_file
from tests.factories import PORTRAIT, SIGNATURE_SCAN

ROOT = Path(__file__).resolve().parent.parent
CONCURRENCY = int(Settings.model_fields["webhook_concurrency"].default)  # the worker's, for the bare client
LANES, CHUNK = 16, 25  # gateway lanes; phase 2's requests moved at a time
GOAL_RATE, GOAL_P99, PACE = 500.0, 2.0, 600.0  # deliveries/s, seconds; phase 2's changes a second
PHOTO, SIGNATURE = base64.b64decode(PORTRAIT), base64.b64decode(SIGNATURE_SCAN)
PARTNER = {"name": "RSUD Pesawaran — loket BPJS", "contact": "it@rsud.example", "allowed_reasons": ["health"]}

SEED_SQL = """
INSERT INTO print_requests (
    id, nik, name, birth_place, birth_date, sex, blood_type, address, rt, rw, village_code, kecamatan_code,
    religion, marital_status, occupation, citizenship, valid_until, photo, signature, priority, reason, channel,
    old_ktp_seen, kk_copy_seen, status, queue_key, attempts, submitted_by, submitter_role, created_at, updated_at)
SELECT
    gen_random_uuid()::text, lpad(($1::bigint + g)::text, 16, '0'), 'BUDI SANTOSO', 'PESAWARAN', DATE '1990-05-17',
    'M', 'O', 'JL. RAYA', '001', '002', '18.09.01.2001', '18.09.01', 'ISLAM', 'KAWIN', 'PETANI', 'WNI',
    'SEUMUR HIDUP', $4::bytea, $5::bytea, 'urgent', 'health', 'partner', true, true, 'queued',
    (extract(epoch FROM now()) * 1000)::bigint * 1000 + $1::bigint + g, 0, $3::text, 'partner', now(), now()
FROM generate_series(1, $2::bigint) AS g
"""
MOVE_SQL = "UPDATE print_requests SET status = $1, updated_at = now() WHERE nik BETWEEN $2 AND $3"


def receiver_app() -> Any:
    """The receiver (a child process): 204 at once to every POST, keeping [arrival, webhook-* headers, body,
    verified with the secret POSTed to /secret, on arrival as the partner would]; a GET hands them over."""
    records: list[list[Any]] = []
    hooks: list[Webhook] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        arrival, body, more = time.time(), b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        status, answer = 204, b""
        if scope["path"] == "/secret":
            hooks[:] = [Webhook(body.decode())]
        elif scope["method"] == "POST":
            headers = {k.decode(): v.decode() for k, v in scope["headers"] if k.startswith(b"webhook-")}
            try:
                verified = bool(hooks) and hooks[0].verify(body, headers, json_parse=False) is None
            except WebhookVerificationError:
                verified = False
            records.append([arrival, headers, body.decode(), verified])
        else:  # a GET (/records; /healthz too): what arrived since the last one
            status, answer = 200, json.dumps(records).encode()
            records.clear()
        await send({"type": "http.response.start", "status": status, "headers": []})
        await send({"type": "http.response.body", "body": answer})

    return app


def serve(kind: str, url: str, port: int) -> None:
    import uvicorn

    from services.request.app import create_app

    app = receiver_app() if kind == "receiver" else create_app(Settings(database_url=url, log_level="WARNING"))
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, log_config=None,
                lifespan="off" if kind == "receiver" else "on")  # fmt: skip


def start(kind: str, url: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "bench.bench_webhooks", "--serve", kind, "--url", url, "--port", str(port)]
    process = subprocess.Popen(command, env=env, cwd=ROOT)
    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError(f"the {kind} exited with {process.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        time.sleep(0.1)
    process.kill()
    raise TimeoutError(f"the {kind} did not start")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def ms(values: list[float]) -> str:
    return "p50 / p95 / p99 " + " / ".join(f"{1000 * percentile(values, q):.0f}" for q in (0.5, 0.95, 0.99)) + " ms"


def cpu(pids: list[int], database: str) -> list[dict[int, float]]:
    """User + system CPU seconds so far of each process of the service, PostgreSQL (``database``'s backends but
    the bench's own, ``pids[2]``) and the receiver."""
    found: list[dict[int, float]] = [{}, {}, {}]
    for p in psutil.process_iter(["cmdline", "cpu_times"]):
        ours = f" {database} " in f" {' '.join(p.info['cmdline'] or [])} " and p.pid != pids[2]
        party = 0 if p.pid == pids[0] else 2 if p.pid == pids[1] else 1 if ours else None
        if party is not None and p.info["cpu_times"]:
            found[party][p.pid] = sum(p.info["cpu_times"][:2])
    return found


@dataclass
class Outcome:
    rate: float  # distinct messages a second: first change (or ``began``) to the last receipt
    latencies: list[float]  # seconds, change to receipt
    distinct: int
    duplicates: int
    out_of_order: int
    bodies: list[str]
    verified: int  # messages (distinct) the partner's secret verified on arrival


def analyse(records: list[list[Any]], began: float | None = None) -> Outcome:
    """The receiver's records (in arrival order) from ``began`` (else the first ``data.occurred_at``) on."""
    seen: set[str] = set()
    latest: dict[str, int] = {}  # request id → the highest event id received
    latencies, bodies, changes, out_of_order, verified = [], [], [], 0, 0
    for arrival, headers, body, genuine in records:
        if headers["webhook-id"] in seen:
            continue
        seen.add(headers["webhook-id"])
        bodies.append(body)
        verified += genuine
        data, event = json.loads(body)["data"], int(headers["webhook-id"].removeprefix("msg_"))
        changes.append(dt.datetime.fromisoformat(data["occurred_at"]).timestamp())
        latencies.append(arrival - changes[-1])
        out_of_order += latest.get(data["request_id"], -1) > event
        latest[data["request_id"]] = max(latest.get(data["request_id"], -1), event)
    first = began if began is not None else min(changes, default=0.0)
    last = max((record[0] for record in records), default=first)
    rate = len(seen) / (last - first) if last > first else 0.0
    return Outcome(rate, latencies, len(seen), len(records) - len(seen), out_of_order, bodies, verified)


async def received(connection: asyncpg.Connection, receiver: str, expected: int, timeout: float) -> list[list[Any]]:
    """Once the outbox holds ``expected`` delivered events and none pending (or after ``timeout``): what the
    receiver got."""
    deadline, count = time.monotonic() + timeout, "SELECT count(*) FROM webhook_events WHERE state = $1"
    while time.monotonic() < deadline:
        pending, done = [await connection.fetchval(count, state) for state in ("pending", "delivered")]
        if not pending and done >= expected:
            break
        await asyncio.sleep(0.1)
    async with httpx.AsyncClient(timeout=60) as http:
        return list((await http.get(f"{receiver}/records")).json())


async def through_claims(dsn: str, base: str, token: str, partner: str, n: int) -> tuple[float, int]:
    """N partner requests, each inserted by SQL, then claimed, sent and printed by one of ``LANES`` gateway lanes
    (not always the same request: a claim takes the queue's head): seconds, errors."""
    errors = 0

    async def lane(http: httpx.AsyncClient, database: asyncpg.Pool, number: int) -> None:
        nonlocal errors
        for turn in range(number, n, LANES):
            await database.execute(SEED_SQL, 10**15 + turn, 1, partner, PHOTO, SIGNATURE)
            job, printer = f"job_{turn}", {"printer_id": f"bench-{number}"}
            while (claim := await http.post("/v1/queue/claims", json={"job_id": job, **printer})).status_code == 204:
                await asyncio.sleep(0.005)  # another lane's claim holds the last one for a moment
            sent = await http.post(f"/v1/queue/claims/{job}/sent", json=printer)
            printed = await http.post(f"/v1/queue/claims/{job}/printed", json={"card_serial": f"KTP{turn:010d}"})
            errors += (claim.status_code, sent.status_code, printed.status_code) != (201, 200, 200)

    limits, auth = httpx.Limits(max_connections=LANES, max_keepalive_connections=LANES), f"Bearer {token}"
    async with (
        httpx.AsyncClient(base_url=base, headers={"Authorization": auth}, limits=limits, timeout=60) as http,
        asyncpg.create_pool(dsn, min_size=LANES, max_size=LANES) as database,
    ):
        started = time.perf_counter()
        await asyncio.gather(*(lane(http, database, number) for number in range(LANES)))
    return time.perf_counter() - started, errors


async def paced(connection: asyncpg.Connection, client_id: str, n: int, rate: float) -> float:
    """N partner requests through queued → printing → printed by SQL, ``CHUNK`` at a time, ``rate`` changes a
    second: seconds taken."""
    first, chunks, started = 3 * 10**15, -(-n // CHUNK), time.perf_counter()
    for tick in range(chunks + 2):
        if tick < chunks:
            await connection.execute(SEED_SQL, first + tick * CHUNK, min(CHUNK, n - tick * CHUNK), client_id, PHOTO,
                                     SIGNATURE)  # fmt: skip
        for back, status in ((1, "printing"), (2, "printed")):
            if 0 <= tick - back < chunks:
                low = first + (tick - back) * CHUNK
                await connection.execute(MOVE_SQL, status, f"{low + 1:016d}", f"{low + CHUNK:016d}")
        await asyncio.sleep(max(0.0, started + (tick + 1) * 3 * CHUNK / rate - time.perf_counter()))
    return time.perf_counter() - started


async def bare_client(url: str, secret: str, bodies: list[str], clients: int) -> tuple[float, list[float], int]:
    """The bodies signed anew and POSTed, ``CONCURRENCY`` at once through ``clients`` httpx clients (connection
    pools): messages/s, each one's round trip, errors."""
    hook, queue, latencies, errors, each = Webhook(secret), iter(enumerate(bodies)), [], 0, CONCURRENCY // clients

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal errors
        for number, body in queue:
            started, msg_id, now = time.perf_counter(), f"msg_bare_{number}", dt.datetime.now(dt.UTC)
            signature = hook.sign(msg_id, now, body)
            headers = {"content-type": "application/json", "webhook-id": msg_id, "webhook-signature": signature,
                       "webhook-timestamp": str(int(now.timestamp())), "user-agent": "bench"}  # fmt: skip
            try:
                errors += (await http.post(url, content=body, headers=headers)).status_code != 204
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.perf_counter() - started)

    limits = httpx.Limits(max_connections=each, max_keepalive_connections=each)
    pools = [httpx.AsyncClient(timeout=10, limits=limits) for _ in range(clients)]
    started = time.perf_counter()
    await asyncio.gather(*(client(pools[slot % clients]) for slot in range(CONCURRENCY)))
    took = time.perf_counter() - started
    await asyncio.gather(*(pool.aclose() for pool in pools))
    return len(latencies) / took, latencies, errors


async def run(args: argparse.Namespace) -> int:
    console, began, n = Console(width=160), time.perf_counter(), 1000 if args.quick else 5000
    wait = 120 + n / 10  # the longest wait for a phase's last delivery (s)
    database = f"ektp_bench_webhooks_{os.getpid()}"
    server = f"{args.pg_user}@{args.pg_host}:{args.pg_port}/"
    url, dsn = f"postgresql+asyncpg://{server}{database}", f"postgresql://{server}{database}"
    keys, staff = generate_key_pair(), generate_key_pair()
    admin = issue_token(keys.private_pem, role="admin", subject="bench-admin")
    gateway = issue_token(keys.private_pem, role="service", subject="bench-gateway")
    workdir = Path(tempfile.mkdtemp(prefix="ektp-bench-webhooks-"))
    data_keys, private, public = workdir / "data-keys.json", workdir / "staff-private.pem", workdir / "staff-public.pem"
    create_keys_file(data_keys)  # the webhook secret is sealed with them
    private.write_bytes(staff.private_pem)  # partners' tokens are signed with the staff key
    public.write_bytes(staff.public_pem)
    env = dict(os.environ, EKTP_REQUEST_JWT_PUBLIC_KEY=keys.public_pem.decode(), EKTP_REQUEST_RATE_LIMITS="{}")
    env |= {"EKTP_REQUEST_DATA_KEYS_FILE": str(data_keys), "EKTP_REQUEST_STAFF_PRIVATE_KEY_FILE": str(private),
            "EKTP_REQUEST_STAFF_PUBLIC_KEY_FILE": str(public)}  # fmt: skip
    base, receiver = f"http://127.0.0.1:{args.port}", f"http://127.0.0.1:{args.port + 1}"
    table = Table("what", "measure", "value", "goal", "ok", title=f"webhooks on PostgreSQL: {n:,} requests a phase")
    load = os.getloadavg()[0]

    def row(what: str, measure: str, value: str, goal: str = "", ok: bool | None = None) -> None:
        nonlocal load
        load = max(load, os.getloadavg()[0])
        table.add_row(what, measure, value, goal, "" if ok is None else "✓" if ok else "✗")

    def checks(outcome: Outcome, expected: int) -> None:
        p99 = percentile(outcome.latencies, 0.99)
        row("", "change → receipt", ms(outcome.latencies), f"p99 ≤ {GOAL_P99:.0f} s", p99 <= GOAL_P99)
        row("", "delivered / expected; duplicates; order violations",
            f"{outcome.distinct:,} / {expected:,}; {outcome.duplicates}; {outcome.out_of_order}", "all; 0; 0",
            outcome.distinct == expected and outcome.duplicates == outcome.out_of_order == 0)  # fmt: skip
        good = f"{outcome.verified:,} of {outcome.distinct:,}"
        row("", "signatures verified (standardwebhooks, on arrival)", good, "all", outcome.verified == outcome.distinct)

    processes: list[subprocess.Popen[bytes]] = []
    postgres = await asyncpg.connect(f"postgresql://{server}postgres")
    await postgres.execute(f'CREATE DATABASE "{database}"')
    connection = None
    try:
        await asyncio.to_thread(upgrade, "request", url)
        connection = await asyncpg.connect(dsn)
        processes.append(start("request", url, args.port, env))
        processes.append(start("receiver", "", args.port + 1, env))
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            made = await http.post("/v1/partners", headers={"Authorization": f"Bearer {admin}"},
                                   json={**PARTNER, "callback_url": f"{receiver}/hooks/ektp"})  # fmt: skip
            assert made.status_code == 201, made.text
            partner, secret = made.json(), made.json()["webhook_secret"]
            await http.post(f"{receiver}/secret", content=secret)  # the receiver verifies with it, as the partner
            form = {"grant_type": "client_credentials", "client_id": partner["client_id"],
                    "client_secret": partner["client_secret"]}  # fmt: skip
            answer = await http.post("/v1/auth/token", data=form)
            assert answer.status_code == 200, answer.text
            as_partner = {"Authorization": f"Bearer {answer.json()['access_token']}"}

            console.print(f"[bold]1.[/] {n:,} partner requests claimed, sent and printed by {LANES} gateway lanes …")
            took, errors = await through_claims(dsn, base, gateway, partner["client_id"], n)
            live = analyse(await received(connection, receiver, 3 * n, wait))
            row("1. through the claim API", "changes a second (made in)", f"{3 * n / took:.0f} ({took:.1f} s)"
                + (f", {errors} errors" if errors else ""))  # fmt: skip
            row("", "deliveries/s, first change → last receipt", f"{live.rate:.0f}")
            checks(live, 3 * n)
            listed = (await http.get("/v1/partners/me/deliveries?limit=1", headers=as_partner)).json()
            row("", "the partner's GET /v1/partners/me/deliveries", f"{listed.get('total')} listed")

            console.print(f"[bold]2.[/] {n:,} more, by SQL, {PACE:.0f} changes a second …")
            took = await paced(connection, partner["client_id"], n, PACE)
            steady = analyse(await received(connection, receiver, 6 * n, wait))
            row("2. at the goal's pace (SQL)", "changes a second (made in)", f"{3 * n / took:.0f} ({took:.1f} s)")
            row("", "deliveries/s, first change → last receipt", f"{steady.rate:.0f}", f"≥ {GOAL_RATE:.0f}",
                steady.rate >= GOAL_RATE)  # fmt: skip
            checks(steady, 3 * n)

            console.print(f"[bold]3.[/] a backlog: {n:,} requests inserted at once …")
            pids = [process.pid for process in processes] + [connection.get_server_pid()]
            before, inserted_at = cpu(pids, database), time.time()
            await connection.execute(SEED_SQL, 2 * 10**15, n, partner["client_id"], PHOTO, SIGNATURE, timeout=600)
            backlog = analyse(await received(connection, receiver, 7 * n, wait), began=inserted_at)
            after = cpu(pids, database)
            spent = [sum(t - b.get(p, 0.0) for p, t in a.items()) for b, a in zip(before, after, strict=True)]
            drained = f"{backlog.rate:.0f} ({backlog.distinct / backlog.rate if backlog.rate else 0:.1f} s)"
            row(f"3. {n:,} queued at once", "deliveries/s (drained in)", drained)
            per = " / ".join(f"{1000 * seconds / max(1, backlog.distinct):.2f}" for seconds in spent)
            row("", "CPU a delivery: service / PostgreSQL / receiver", f"{per} ms")
            row("", "delivered / expected; order violations", f"{backlog.distinct:,} / {n:,}; {backlog.out_of_order}",
                "all; 0", backlog.distinct == n and backlog.out_of_order == 0)  # fmt: skip

        console.print(f"[bold]4.[/] the same {len(live.bodies):,} bodies from bare httpx …")
        for clients in (1, CONCURRENCY // 8):
            rate, latencies, errors = await bare_client(f"{receiver}/hooks/ektp", secret, live.bodies, clients)
            await received(connection, receiver, 0, 0)  # empties the receiver
            row(f"4. bare httpx, {clients} × {CONCURRENCY // clients} connections", "messages/s",
                f"{rate:.0f}" + (f", {errors} errors" if errors else ""))  # fmt: skip
            row("", "sign + POST round trip", ms(latencies))
            row("", "the worker's backlog rate (3.) to this", f"{backlog.rate / rate if rate else 0:.2f}×")
    finally:
        if connection is not None:
            await connection.close()
        for process in processes:
            process.terminate()
            process.wait(10)
        await postgres.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        await postgres.close()
        shutil.rmtree(workdir)
    console.print(table)
    worker, took, cores = Settings(database_url=url), time.perf_counter() - began, os.cpu_count()
    console.print(f"the whole bench: {took:.0f} s; the highest 1-minute load average {load:.1f} ({cores} cores)")
    console.print(f"the worker: poll {worker.webhook_poll_seconds} s, concurrency {worker.webhook_concurrency}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 requests a phase, not 5,000")
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--port", type=int, default=18721, help="the request service's port (receiver: port + 1)")
    parser.add_argument("--serve", choices=["request", "receiver"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.url, args.port)
        return 0
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
