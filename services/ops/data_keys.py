"""``ektp keys init-data | rotate-data | retire-data``: the data keys that seal photos and signatures at rest.

ektp keys init-data                 make the request service's data keys file (0600) unless it exists
ektp keys rotate-data [--retire]    a new current key, then every row sealed again under it, page by page
ektp keys retire-data               drop the keys no row uses

The file and the database are the request service's own (its settings: ``EKTP_REQUEST_DATA_KEYS_FILE``,
``EKTP_REQUEST_DATABASE_URL``), or ``--file``. Rotation runs beside the running services: they re-read the file
within a second and open rows under either key meanwhile (services/request/privacy/rotation.py). An
interrupted rotation is finished with ``--resume`` (no new key). Exit 1 when rows are left that do not open.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from services.common.db import Database
from services.request.privacy.keys import DataKeyError, Keyring, add_key, create_keys_file, drop_keys
from services.request.privacy.rotation import ResealReport, pending, reseal, used_key_ids

__all__ = ["add_data_key_commands"]

# Past the services' re-read interval (privacy/keys.py: once a second) with room for a slow look at the file.
SETTLE_SECONDS = 3.0


def _request_settings() -> Any:
    from services.ops.cli import service_settings  # cli imports this module

    return service_settings("request")


def _keys_file(args: argparse.Namespace) -> Path:
    path: Path = args.file or _request_settings().data_keys_file
    return path


def _cmd_init_data(args: argparse.Namespace) -> int:
    path = _keys_file(args)
    made = create_keys_file(path)
    print(f"data keys: {path} {'made (mode 0600)' if made else 'exists, left as it is'}", file=sys.stderr)
    return 0


async def _reseal(path: Path, url: str, page: int) -> tuple[ResealReport, int]:
    keyring = Keyring(path, check_every=0)
    db = Database(url, pool_size=1, max_overflow=0)
    try:
        total = await pending(db, keyring.current_id)
        with Progress(
            TextColumn("re-sealing under {task.fields[key]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            transient=True,
        ) as bar:
            task = bar.add_task("reseal", total=total, key=keyring.current_id)
            report = await reseal(db, keyring, page=page, progress=lambda rows: bar.advance(task, rows))
        return report, await pending(db, keyring.current_id)
    finally:
        await db.dispose()


async def _retire(path: Path, url: str) -> list[str]:
    db = Database(url, pool_size=1, max_overflow=0)
    try:
        return drop_keys(path, await used_key_ids(db))
    finally:
        await db.dispose()


def _cmd_rotate_data(args: argparse.Namespace) -> int:
    path = _keys_file(args)
    url = _request_settings().resolved_database_url()
    try:
        if not args.resume:
            key_id = add_key(path)
            print(f"data keys: {key_id} is current in {path}; waiting {args.settle_seconds:g} s", file=sys.stderr)
            time.sleep(args.settle_seconds)  # the services re-read the file within this
        report, left = asyncio.run(_reseal(path, url, args.page))
    except DataKeyError as exc:
        print(f"data keys: {exc}", file=sys.stderr)
        return 2
    print(
        f"re-sealed {report.resealed} requests in {report.passes} passes; {left} not under the current key"
        + (f", {report.raced} changed meanwhile and taken again" if report.raced else "")
    )
    if report.unreadable:
        print(f"do not open (left as they are): {', '.join(report.unreadable[:20])}", file=sys.stderr)
        return 1
    if args.retire and left == 0:
        return _print_retired(asyncio.run(_retire(path, url)))
    return 0


def _print_retired(dropped: list[str]) -> int:
    print(f"retired {len(dropped)} keys no row uses" + (f": {', '.join(dropped)}" if dropped else ""))
    return 0


def _cmd_retire_data(args: argparse.Namespace) -> int:
    try:
        return _print_retired(asyncio.run(_retire(_keys_file(args), _request_settings().resolved_database_url())))
    except DataKeyError as exc:
        print(f"data keys: {exc}", file=sys.stderr)
        return 2


def add_data_key_commands(keys: Any) -> None:
    """Add ``init-data``, ``rotate-data`` and ``retire-data`` to the ``ektp keys`` sub-parsers."""
    file_help = "the data keys file (default: the request service's data_keys_file)"
    init = keys.add_parser("init-data", help="make the data keys file for photos and signatures unless it exists")
    init.add_argument("--file", type=Path, help=file_help)
    init.set_defaults(func=_cmd_init_data)

    rotate = keys.add_parser("rotate-data", help="a new data key, then every photo and signature sealed under it")
    rotate.add_argument("--file", type=Path, help=file_help)
    rotate.add_argument("--page", type=int, default=500, help="rows sealed again per transaction")
    rotate.add_argument(
        "--settle-seconds",
        type=float,
        default=SETTLE_SECONDS,
        help="wait after the new key is written, until every service has read it",
    )
    rotate.add_argument("--resume", action="store_true", help="no new key: finish an interrupted rotation")
    rotate.add_argument("--retire", action="store_true", help="then drop the keys no row uses")
    rotate.set_defaults(func=_cmd_rotate_data)

    retire = keys.add_parser("retire-data", help="drop the data keys no row uses")
    retire.add_argument("--file", type=Path, help=file_help)
    retire.set_defaults(func=_cmd_retire_data)
