"""``ektp audit verify``: check each service's audit hash chain in its database, or an export offline.

ektp audit verify [SERVICE]          every service's database (read from its settings), or one
ektp audit verify --export FILE      a file from GET /v1/audit/export (JSON Lines or CSV)

Each prints OK with the rows and the chain head (keep it: a later run showing an older head means rows were cut
off the end), or the first broken row and what is wrong with it, and then exits 1 (2: a database it could not
read).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import dataclasses
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from services.common.audit import uncsv_cell
from services.common.audit_chain import (
    EXPORT_FIELDS,
    ChainBreak,
    ChainReport,
    ChainVerifier,
    verify_chain,
    verify_trail,
)
from services.common.db import Database, is_sqlite
from services.common.migrate import SERVICES

__all__ = ["add_audit_commands", "verify_export"]


def _said(where: str, report: ChainReport) -> str:
    if report.broken is not None:
        return f"{where}: BROKEN at {report.broken}"
    return f"{where}: OK, {report.rows} rows, chain head seq {report.head_seq} {report.head_hash}"


async def _verify_database(service: str, url: str) -> ChainReport | str:
    """The service's chain, or why it could not be read."""
    db = Database(url, pool_size=1, max_overflow=0)
    try:
        async with db.read_sessions() as session:
            return await verify_trail(session)
    except DBAPIError as exc:
        return f"cannot read its audit trail: {exc.orig!r} (ektp migrate {service}?)"
    finally:
        await db.dispose()


def _verify_service(service: str) -> ChainReport | str:
    from services.ops.cli import service_settings  # cli imports this module

    url = service_settings(service).resolved_database_url()
    if is_sqlite(url) and not Path(make_url(url).database or "").is_file():
        return f"no database at {make_url(url).database} (ektp migrate {service})"
    return asyncio.run(_verify_database(service, url))


def _jsonl_records(lines: Iterable[str], trailer: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if not line.strip():
            continue
        record = json.loads(line)
        if "chain_head" in record:
            trailer.update(record)
            return
        yield record


def _csv_records(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    for row in csv.DictReader(lines):
        record: dict[str, Any] = {key: uncsv_cell(row[key]) for key in EXPORT_FIELDS if row.get(key) is not None}
        for key in ("seq", "id"):
            record[key] = int(record[key]) if record.get(key) else None
        for key in ("before", "after"):
            if key in record:
                record[key] = json.loads(record[key])
        yield record


def verify_export(path: Path) -> ChainReport:
    """Verify an export: a CSV (``.csv``) as a whole chain; JSON Lines against its trailer (the chain head when
    the export began; a filtered export's rows only against their own hashes and their neighbours')."""
    with path.open(newline="", encoding="utf-8") as handle:
        if path.suffix.lower() == ".csv":
            return verify_chain(_csv_records(handle))
        # Whether the export is complete is only known at the trailer: skips are noted, and judged then.
        verifier = ChainVerifier(complete=False)
        trailer: dict[str, Any] = {}
        for record in _jsonl_records(handle, trailer):
            if verifier.check(record) is not None:
                return verifier.report()
    report = verifier.report()
    if not trailer:
        return _broken(report, "no trailer: the export was cut short")
    complete, head = not trailer.get("filters"), trailer["chain_head"]
    if complete and verifier.first_gap is not None:
        return dataclasses.replace(report, broken=verifier.first_gap)
    if trailer["rows"] != report.rows:
        return _broken(report, f"the trailer counts {trailer['rows']} rows, the file holds {report.rows}")
    if complete and (report.head_seq, report.head_hash) != (head["seq"], head["hash"]):
        return _broken(report, f"its last row is not the trailer's chain head, seq {head['seq']} {head['hash']}")
    return report


def _broken(report: ChainReport, problem: str) -> ChainReport:
    return dataclasses.replace(report, broken=ChainBreak(None, None, problem))


def _cmd_verify(args: argparse.Namespace) -> int:
    if args.export is not None:
        try:
            report = verify_export(args.export)
        except (OSError, ValueError, KeyError, TypeError) as exc:  # not a file, not an export
            print(f"{args.export}: cannot read it as an audit export: {exc!r}", file=sys.stderr)
            return 2
        print(_said(str(args.export), report))
        return 0 if report.broken is None else 1

    broken = unread = False
    for service in [args.service] if args.service else SERVICES:
        result = _verify_service(service)
        if isinstance(result, str):
            print(f"{service}: {result}", file=sys.stderr)
            unread = True
        else:
            print(_said(service, result))
            broken |= result.broken is not None
    return 1 if broken else 2 if unread else 0


def add_audit_commands(sub: Any) -> None:
    """Add ``audit verify`` to the ``ektp`` command's sub-parsers."""
    audit = sub.add_parser("audit", help="the audit trails").add_subparsers(dest="audit_command", required=True)
    verify = audit.add_parser("verify", help="check the audit hash chains (or an export) and name a broken row")
    verify.add_argument("service", nargs="?", choices=SERVICES, help="one service (default: all three)")
    verify.add_argument("--export", type=Path, metavar="FILE", help="verify a file from GET /v1/audit/export")
    verify.set_defaults(func=_cmd_verify)
