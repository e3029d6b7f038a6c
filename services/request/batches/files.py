"""A proposal file as the office receives it: spooled with its hash (the same file twice is one batch), then
read row by row from CSV or JSON, each row numbered as the clerk sees it."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import IO, Any

from services.common.problems import FieldError, Unprocessable
from services.request.print_requests.schemas import RequestIn

__all__ = ["COLUMNS", "REQUIRED", "Upload", "csv_rows", "json_rows", "spool"]

COLUMNS = frozenset(RequestIn.model_fields)
REQUIRED = frozenset(name for name, info in RequestIn.model_fields.items() if info.is_required() and name != "channel")
SPOOL_IN_MEMORY = 8 * 1024 * 1024


@dataclass
class Upload:
    """A spooled upload with its SHA-256: small files stay in memory, big ones go to a temporary file."""

    file: IO[bytes]
    content_hash: str
    size: int
    format: str
    filename: str | None = None


async def spool(chunks: AsyncIterator[bytes], *, format: str, filename: str | None, max_bytes: int) -> Upload:
    file = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - closed by the caller
    digest = hashlib.sha256(format.encode() + b"\n")
    size = 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            file.close()
            raise Unprocessable.field("file", f"larger than {max_bytes} bytes")
        digest.update(chunk)
        file.write(chunk)
    file.seek(0)
    if size == 0:
        file.close()
        raise Unprocessable.field("file", "empty")
    return Upload(file=file, content_hash=digest.hexdigest(), size=size, format=format, filename=filename)


def csv_rows(file: IO[bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
    # The C text layer (newline="" as the csv module wants), not codecs.StreamReader: several times faster.
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise Unprocessable.field("file", "no header row") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise Unprocessable.field("file", f"not a UTF-8 CSV file ({exc})") from None
    unknown = [h for h in header if h not in COLUMNS]
    if unknown:
        raise Unprocessable(
            f"unknown columns: {', '.join(unknown)}",
            kind="validation",
            errors=[FieldError(field=h, reason="not a column of a print request", row=0) for h in unknown],
        )
    missing = sorted(REQUIRED - set(header))
    if missing:
        raise Unprocessable(
            f"missing columns: {', '.join(missing)}",
            kind="validation",
            errors=[FieldError(field=m, reason="required column missing", row=0) for m in missing],
        )
    number = 0
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue
            number += 1
            if len(values) != len(header):
                yield number, {"__row__": f"has {len(values)} values, the header has {len(header)}"}
                continue
            yield number, {k: v for k, v in zip(header, values, strict=True) if v != ""}
    except (UnicodeDecodeError, csv.Error) as exc:
        raise Unprocessable.field("file", f"unreadable after row {number} ({exc})") from None


def json_rows(file: IO[bytes]) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        document = json.load(io.TextIOWrapper(file, encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Unprocessable.field("file", f"not a JSON document ({exc})") from None
    rows = document.get("rows") if isinstance(document, dict) else document
    if not isinstance(rows, list):
        raise Unprocessable.field("rows", 'a JSON list of requests (or {"rows": [...]}) is expected')
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, dict):
            yield number, {"__row__": "not a JSON object"}
            continue
        # A row may carry its own number (the proposal's line), which the report then uses.
        own = row.pop("row", None)
        yield (own if isinstance(own, int) and not isinstance(own, bool) else number), row
