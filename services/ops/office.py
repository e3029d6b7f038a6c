"""Commands an office runs against a running system: ``ektp status`` and ``ektp import-batch``.

They talk to the services over their public APIs, with the token from ``--token``, ``$EKTP_TOKEN`` or, on a
development machine, one minted from the key pair under ./data/keys.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from services.common.auth import Role, issue_token
from services.common.settings import DATA_DIR

__all__ = ["add_office_commands"]

CHUNK = 64 * 1024
# The stock forecast as `ektp status` and the console show it (GET /v1/forecast of the inventory service).
FORECAST_FIELDS = ["rate_per_day", "days_of_cover", "projected_stock_out_on", "backlog", "shortfall", "reorder_point",
                   "suggested_quantity"]  # fmt: skip


def _token(args: argparse.Namespace, role: Role) -> str:
    if args.token:
        return str(args.token)
    if token := os.environ.get("EKTP_TOKEN"):
        return token
    key = args.data_dir / "keys" / "jwt-private.pem"
    if not key.exists():
        raise SystemExit("no token: pass --token, set EKTP_TOKEN, or run on the machine that holds ./data/keys")
    return issue_token(key.read_bytes(), role=role, subject=f"ektp-cli-{role.value}")


def _client(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _get(client: httpx.Client, path: str) -> Any:
    try:
        response = client.get(path)
    except httpx.TransportError as exc:
        return {"error": f"unreachable ({exc.__class__.__name__})"}
    if response.status_code != 200:
        return {"error": f"{response.status_code} {response.json().get('title', '') if response.content else ''}"}
    return response.json()


def _cmd_status(args: argparse.Namespace) -> int:
    token = _token(args, Role.OPERATOR)
    console = Console()
    with (
        _client(args.gateway_url, token) as gw,
        _client(args.request_url, token) as rq,
        _client(args.inventory_url, token) as inv,
    ):
        printers, queue, stock, forecast = (
            _get(gw, "/v1/printers"), _get(rq, "/v1/queue/stats"), _get(inv, "/v1/stock"), _get(inv, "/v1/forecast")
        )  # fmt: skip

    table = Table(title="Printers")
    for column in ("name", "state", "reasons", "ribbon left", "cards printed", "cards/hour"):
        table.add_column(column)
    items = printers.get("items", []) if isinstance(printers, dict) else printers
    for p in items:
        supplies = p.get("supplies") or {}
        table.add_row(
            p.get("name", "?"),
            p.get("state", "?"),
            ", ".join(p.get("reasons") or []) or "-",
            str(supplies.get("ribbon_left", "-")),
            str(supplies.get("cards_printed", p.get("cards_printed", "-"))),
            f"{p.get('cards_per_hour') or 0:.0f}",
        )
    if isinstance(printers, dict) and "error" in printers:
        table.add_row("gateway", printers["error"], "", "", "", "")
    console.print(table)

    def pairs(title: str, body: Any, keys: list[str]) -> None:
        t = Table(title=title, show_header=False)
        if "error" in body:
            t.add_row("error", body["error"])
        for key in keys:
            if key in body:
                t.add_row(key.replace("_", " "), str(body[key]))
        console.print(t)

    pairs(
        "Queue",
        queue,
        [
            "queued",
            "urgent_queued",
            "regular_queued",
            "printing",
            "needs_review",
            "overdue",
            "printed_today",
            "daily_capacity",
        ],
    )
    pairs("Blank cards", stock, ["received", "available", "reserved", "consumed", "spoiled", "urgent_reserve"])
    pairs("Forecast", forecast, FORECAST_FIELDS)
    if "projection_note" in forecast:
        console.print(forecast["projection_note"])
    return 0


def _read_in_chunks(path: Path, progress: Progress, task: Any) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            progress.update(task, advance=len(chunk))
            yield chunk


def _cmd_import_batch(args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        print(f"ektp import-batch: no such file: {path}", file=sys.stderr)
        return 2
    token = _token(args, Role.OPERATOR)
    console = Console(stderr=True)
    content_type = "application/json" if path.suffix.lower() == ".json" else "text/csv"
    with Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn(), console=console
    ) as progress:
        task = progress.add_task(f"uploading {path.name}", total=path.stat().st_size)
        with _client(args.request_url, token) as client:
            response = client.post(
                "/v1/batches",
                params={"filename": path.name},
                content=_read_in_chunks(path, progress, task),
                headers={"Content-Type": content_type},
                timeout=httpx.Timeout(300, connect=5),
            )
            if response.status_code >= 400:
                console.print(f"[red]refused: {response.status_code}[/red] {response.text}")
                return 1
            batch = response.json()
            errors: list[dict[str, Any]] = []
            if batch["rejected_rows"]:
                report = client.get(f"/v1/batches/{batch['id']}/report", params={"limit": min(args.show, 500)})
                errors = report.json()["errors"] if report.status_code == 200 else []
    again = " (this file was uploaded before: the same batch)" if response.status_code == 200 else ""
    summary = Table(title=f"Batch {batch['id']}{again}", show_header=False)
    for key in ("status", "total_rows", "accepted_rows", "rejected_rows", "filename"):
        summary.add_row(key.replace("_", " "), str(batch.get(key)))
    Console().print(summary)
    if errors:
        table = Table(title=f"Rejected rows (first {min(len(errors), args.show)})")
        for column in ("row", "field", "reason"):
            table.add_column(column)
        for error in errors[: args.show]:
            table.add_row(str(error.get("row")), str(error.get("field")), str(error.get("reason")))
        Console().print(table)
    return 0


def add_office_commands(sub: Any) -> None:
    """Add ``status`` and ``import-batch`` to the ``ektp`` command's sub-parsers."""

    def common(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--token", default="", help="a bearer token (default: $EKTP_TOKEN or a dev token)")
        parser.add_argument("--request-url", default="http://127.0.0.1:8001")
        parser.add_argument("--inventory-url", default="http://127.0.0.1:8002")
        parser.add_argument("--gateway-url", default="http://127.0.0.1:8003")
        parser.add_argument("--data-dir", type=Path, default=DATA_DIR)

    status = sub.add_parser("status", help="printers, queue and stock at a glance")
    common(status)
    status.set_defaults(func=_cmd_status)

    batch = sub.add_parser("import-batch", help="upload a kecamatan batch (CSV or JSON) and print its report")
    batch.add_argument("file", type=Path)
    batch.add_argument("--show", type=int, default=50, help="rejected rows to list")
    common(batch)
    batch.set_defaults(func=_cmd_import_batch)
