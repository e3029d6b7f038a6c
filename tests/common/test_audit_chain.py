"""The audit hash chain itself (services.common.audit): one hash in Python and in the database, writers that
commit at once never fork it, the migration seals the rows already there, and ``ektp audit verify`` checks it.
Through a service's API: tests/gateway/test_audit_chain.py, tests/request/test_audit_chain.py."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import insert, select, text

from services.common.audit import Auditor, csv_cell, uncsv_cell
from services.common.audit_chain import (
    AUDIT_TABLE,
    GENESIS,
    event_hash,
    verify_chain,
    verify_trail,
)
from services.common.auth import Principal, Role
from services.common.db import Database
from services.common.migrate import alembic_config, upgrade
from services.gateway.models import AuditEvent
from services.ops.cli import main
from tests.conftest import off_loop, pg_admin, pg_run, pg_url

SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"])
POSTGRES_ONLY = pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
ADMIN = Principal(subject="admin-1", role=Role.ADMIN, scope=frozenset())
# Documents a JSON column may hold, with what a canonical form has to get right: key order, nesting, numbers,
# escapes, text beyond ASCII.
AWKWARD: list[dict[str, Any] | None] = [
    None,
    {},
    {"b": 1, "a": [1, 2.5, -0.0, 1e20, 1.5e-10, 12345678901234567890, True, False, None]},
    {"é": 'ü\u2028\u0001"\\\n\t😀', "Z": {"y": [], "x": {}}, "10": 1, "9": 2, "": 3, "name": "=1+1"},
]


def chain(*contents: dict[str, Any]) -> list[dict[str, Any]]:
    """Sealed records for ``contents`` (each overriding a plain row's fields), as an export would hold them."""
    records, prev = [], GENESIS
    for seq, content in enumerate(contents, 1):
        record: dict[str, Any] = {
            "seq": seq, "id": seq, "at": "2026-11-29T04:40:00.000000Z", "actor": "admin-1", "actor_role": "admin",
            "action": "note.written", "object_type": "note", "object_id": str(seq), "before": None,
            "after": {"n": seq}, "prev_hash": prev,
        } | content  # fmt: skip
        record["hash"] = prev = event_hash(record)
        records.append(record)
    return records


def test_verify_chain_names_the_first_row_that_breaks_it() -> None:
    records = chain({}, {}, {}, {})
    assert verify_chain(records).broken is None
    assert str(verify_chain([*records[:1], *records[2:]]).broken) == (
        "row id 3 (seq 3): seq 3 follows seq 1: row seq 2 was removed"
    )
    assert verify_chain([*records[:1], *records[3:]]).broken is not None
    assert str(verify_chain([records[0], records[2], records[1]]).broken).startswith("row id 3 (seq 3): seq 3 follows")
    edited = [records[0], records[1] | {"object_id": "99"}, *records[2:]]
    assert str(verify_chain(edited).broken).startswith("row id 2 (seq 2): its content was changed after it was sealed")
    assert verify_chain(records[1:], complete=False).broken is None  # a filtered export starts anywhere
    assert verify_chain(records[1:]).broken is not None


def test_a_csv_cell_that_a_spreadsheet_would_run_is_defused_and_given_back_as_written() -> None:
    for value in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx", "'quoted", "plain", "", "a=b"]:
        cell = csv_cell(value)
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), value
        assert uncsv_cell(cell) == value


@pytest.fixture
def empty_db(backend: str, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database: no migration run yet."""
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"ektp_t_chain_{uuid.uuid4().hex[:10]}"
    pg_run(f'CREATE DATABASE "{name}"')
    yield pg_url(name)
    off_loop(asyncio.run, pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def test_the_database_seals_a_row_with_the_hash_python_computes(migrated_db: Callable[[str], str]) -> None:
    db = Database(migrated_db("gateway"))
    try:
        for document in AWKWARD:
            async with db.sessions() as session:
                Auditor(AuditEvent).record(session, ADMIN, "note.written", "note", "é\"'", before=document, after=None)
                await session.commit()
        bulk = {"actor": "svc", "actor_role": "service", "action": "bulk", "object_type": "t", "object_id": "1"}
        async with db.sessions() as session:  # a core INSERT, as the repositories write theirs
            await session.execute(insert(AuditEvent), [bulk | {"after": AWKWARD[-1]}, bulk])
            await session.commit()
        async with db.read_sessions() as session:
            report = await verify_trail(session)
            stored = (await session.scalars(select(AUDIT_TABLE.c.hash).order_by(AUDIT_TABLE.c.seq))).all()
    finally:
        await db.dispose()
    assert (report.broken, report.rows) == (None, len(AWKWARD) + 2)
    assert report.head_hash == stored[-1]


@POSTGRES_ONLY
async def test_twenty_transactions_committing_at_once_never_chain_onto_the_same_row(
    migrated_db: Callable[[str], str],
) -> None:
    db = Database(migrated_db("gateway"))
    auditor, all_written = Auditor(AuditEvent), asyncio.Barrier(20)

    async def write(n: int) -> None:
        async with db.sessions() as session:
            writer = Principal(subject=f"writer-{n}", role=Role.OPERATOR, scope=frozenset())
            auditor.record(session, writer, "note.written", "note", str(n), after={"n": n})
            await session.flush()
            await all_written.wait()  # twenty rows written, none sealed yet: all twenty commit at once
            await session.commit()

    try:
        await asyncio.gather(*(write(n) for n in range(20)))
        async with db.read_sessions() as session:
            report = await verify_trail(session)
            seqs = (await session.scalars(select(AUDIT_TABLE.c.seq).order_by(AUDIT_TABLE.c.seq))).all()
    finally:
        await db.dispose()
    assert (report.broken, report.rows) == (None, 20)
    assert seqs == list(range(1, 21))


async def test_the_migration_seals_the_rows_written_before_it_and_the_chain_goes_on(empty_db: str) -> None:
    await asyncio.to_thread(upgrade, "gateway", empty_db, "0002")
    db = Database(empty_db)
    old = [{"actor": f"a{n}", "actor_role": "admin", "action": "old", "object_type": "t", "object_id": str(n),
            "before": None, "after": {"n": n, "name": "Siti"}} for n in range(7)]  # fmt: skip
    try:
        async with db.sessions() as session:
            await session.execute(insert(AuditEvent.__table__), old)
            await session.commit()
        await db.dispose()
        await asyncio.to_thread(upgrade, "gateway", empty_db)
        async with db.sessions() as session:
            Auditor(AuditEvent).record(session, ADMIN, "new", "t", "x", before={"a": [1, 2.5]})
            await session.commit()
        async with db.read_sessions() as session:
            report = await verify_trail(session)
        await db.dispose()
        # and back: down to before the chain, up again (the rows sealed anew)
        await asyncio.to_thread(command.downgrade, alembic_config("gateway", empty_db), "0002")
        await asyncio.to_thread(upgrade, "gateway", empty_db)
        async with db.read_sessions() as session:
            again = await verify_trail(session)
    finally:
        await db.dispose()
    assert (report.broken, report.rows) == (None, 8)
    assert (again.broken, again.rows, again.head_hash) == (None, 8, report.head_hash)


@SQLITE_ONLY
def test_ektp_audit_verify_checks_each_service_and_names_a_tampered_row(
    migrated_db: Callable[[str], str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    urls = {service: migrated_db(service) for service in ("request", "inventory", "gateway")}
    for service, url in urls.items():
        monkeypatch.setenv(f"EKTP_{service.upper()}_DATABASE_URL", url)

    async def on_gateway(sql: str | None = None) -> None:
        db = Database(urls["gateway"])
        async with db.sessions() as session:
            if sql is None:
                for n in range(3):
                    Auditor(AuditEvent).record(session, ADMIN, "note.written", "note", str(n), after={"n": n})
            else:
                await session.execute(text(sql))
            await session.commit()
        await db.dispose()

    asyncio.run(on_gateway())
    assert main(["audit", "verify"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == [
        f"request: OK, 0 rows, chain head seq 0 {GENESIS}",
        f"inventory: OK, 0 rows, chain head seq 0 {GENESIS}",
    ]
    assert out[2].startswith("gateway: OK, 3 rows, chain head seq 3 ")

    asyncio.run(on_gateway("""UPDATE audit_events SET "after" = '{"n": 7}' WHERE seq = 2"""))
    assert main(["audit", "verify", "gateway"]) == 1
    assert capsys.readouterr().out.startswith(
        "gateway: BROKEN at row id 2 (seq 2): its content was changed after it was sealed"
    )


def test_ektp_audit_verify_export_checks_a_file_offline(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = chain({}, {"after": {"name": "=HYPERLINK(1)"}})
    trailer = {"chain_head": {"seq": 2, "hash": records[-1]["hash"]}, "rows": 2, "filters": {}}
    good, bad = tmp_path / "audit.jsonl", tmp_path / "edited.jsonl"
    good.write_text("".join(json.dumps(line) + "\n" for line in [*records, trailer]))
    bad.write_text("".join(json.dumps(line) + "\n" for line in [records[0] | {"actor": "x"}, records[1], trailer]))
    assert main(["audit", "verify", "--export", str(good)]) == 0
    assert capsys.readouterr().out == f"{good}: OK, 2 rows, chain head seq 2 {records[-1]['hash']}\n"
    assert main(["audit", "verify", "--export", str(bad)]) == 1
    assert capsys.readouterr().out.startswith(f"{bad}: BROKEN at row id 1 (seq 1): its content was changed")
