"""A proposal file as the office receives it: spooled with its hash (the same file twice is one batch), then
read row by row from CSV or JSON, each row numbered as the clerk sees it.

Reading holds one row at a time, never the file: CSV through the csv module, JSON as a stream of parser events
(ijson), from which only a row's own single values are built. Whatever a file holds, it costs at most
``max_rows`` rows: past them the file is refused whole (413), and so is a JSON file whose row numbers are not
1…``max_rows`` once each (422). Every refusal says why in the clerk's words, never an exception's.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import ijson  # type: ignore[import-untyped]  # no type hints shipped

from services.common.problems import ContentTooLarge, FieldError, Unprocessable
from services.request.print_requests.schemas import RequestIn

__all__ = ["COLUMNS", "REQUIRED", "Row", "Upload", "csv_rows", "json_rows", "spool"]

COLUMNS = frozenset(RequestIn.model_fields)
REQUIRED = frozenset(name for name, info in RequestIn.model_fields.items() if info.is_required() and name != "channel")
SPOOL_IN_MEMORY = 8 * 1024 * 1024
# A JSON row is a flat object of a print request's fields (and its own ``row``); past this many it is refused.
ROW_FIELDS = 64
# A list or object where a single value belongs is skipped without being built, up to this many parser events
# (or this deep); past that the file is refused rather than walked on.
SKIP_EVENTS, SKIP_DEPTH = 10_000, 32
# The unknown or missing columns a refused CSV header names.
HEADER_ERRORS = 20

_ROWS_EXPECTED = 'a JSON list of requests (or {"rows": [...]}) is expected'
_SINGLE_VALUE = "a single value is expected (text, a number, true or false), not a list or an object"
_TOO_BIG_TO_SKIP = "a list or object too large or too deep: a field is a single value"
_TOO_MANY_FIELDS = f"more than {ROW_FIELDS} fields (a print request has {len(COLUMNS)})"
_OPENS, _CLOSES = frozenset({"start_map", "start_array"}), frozenset({"end_map", "end_array"})


@dataclass
class Upload:
    """A spooled upload with its SHA-256: small files stay in memory, big ones go to a temporary file."""

    file: IO[bytes]
    content_hash: str
    size: int
    format: str
    filename: str | None = None


@dataclass(slots=True)
class Row:
    """One row as read: its number, its values, and what made it unreadable (then nothing else is checked)."""

    number: int
    values: dict[str, Any]
    errors: list[FieldError] = field(default_factory=list)


def _size(limit: int) -> str:
    mib = 1024 * 1024
    return f"{limit // mib} MiB" if limit % mib == 0 else f"{limit} bytes"


def too_many_rows(max_rows: int, what: str = "rows") -> ContentTooLarge:
    reason = f"more than {max_rows} {what}: a batch is one kecamatan's proposal; split the file"
    return ContentTooLarge(f"rows: {reason}", kind="batch-too-large", errors=[FieldError(field="rows", reason=reason)])


async def spool(chunks: AsyncIterator[bytes], *, format: str, filename: str | None, max_bytes: int) -> Upload:
    file = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115 - closed by the caller
    digest = hashlib.sha256(format.encode() + b"\n")
    size = 0
    try:
        async for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                reason = f"larger than {_size(max_bytes)}, the most one upload may be; split the file"
                raise ContentTooLarge(
                    f"file: {reason}", kind="batch-too-large", errors=[FieldError(field="file", reason=reason)]
                )
            digest.update(chunk)
            file.write(chunk)
        if size == 0:
            raise Unprocessable.field("file", "empty")
    except BaseException:  # refused here, or the body stopped (services.common.bodies, a client gone)
        file.close()
        raise
    file.seek(0)
    return Upload(file=file, content_hash=digest.hexdigest(), size=size, format=format, filename=filename)


# --- CSV ------------------------------------------------------------------------------------------------------


def _unreadable_csv_line() -> str:
    return f"not a CSV line: a value over {csv.field_size_limit()} characters, or a stray quote"


def _not_utf8(after: int) -> Unprocessable:
    return Unprocessable.field("file", f"not UTF-8 text (after row {after})" if after else "not UTF-8 text")


def _check_header(header: list[str]) -> None:
    unknown = [h for h in header if h not in COLUMNS]
    missing = sorted(REQUIRED - set(header))
    for names, reason, what in (
        (unknown, "not a column of a print request", "unknown columns"),
        (missing, "required column missing", "missing columns"),
    ):
        if names:
            listed = ", ".join(name[:60] for name in names[:HEADER_ERRORS])
            more = f" and {len(names) - HEADER_ERRORS} more" if len(names) > HEADER_ERRORS else ""
            raise Unprocessable(
                f"{what}: {listed}{more}",
                kind="validation",
                errors=[FieldError(field=name[:60], reason=reason, row=0) for name in names[:HEADER_ERRORS]],
            )


def csv_rows(file: IO[bytes], *, max_rows: int) -> Iterator[Row]:
    """The data rows of a CSV file with a header (row 0). A line the csv module cannot read (a value past its
    field limit, a stray quote) is a row error; text that is not UTF-8 refuses the file. Blank lines are
    skipped, ``max_rows`` of them at most."""
    # The C text layer (newline="" as the csv module wants), not codecs.StreamReader: several times faster.
    text = io.TextIOWrapper(file, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        header = []
    except UnicodeDecodeError:
        raise _not_utf8(0) from None
    except csv.Error:
        raise Unprocessable.field("file", "the header row is not a CSV line") from None
    if not any(header):
        raise Unprocessable.field("file", "no header row")
    _check_header(header)
    number = blank = 0
    while True:
        try:
            values = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise _not_utf8(number) from None
        except csv.Error:
            # The reader goes on at the next line.
            values = None
        if values is not None and not any(v.strip() for v in values):
            blank += 1
            if blank > max_rows:
                raise too_many_rows(max_rows, "blank lines")
            continue
        number += 1
        if number > max_rows:
            raise too_many_rows(max_rows)
        if values is None:
            yield Row(number, {}, [FieldError(row=number, field="row", reason=_unreadable_csv_line())])
        elif len(values) != len(header):
            reason = f"has {len(values)} values, the header has {len(header)}"
            yield Row(number, {}, [FieldError(row=number, field="row", reason=reason)])
        else:
            yield Row(number, {k: v for k, v in zip(header, values, strict=True) if v != ""})


# --- JSON -----------------------------------------------------------------------------------------------------

Events = Iterator[tuple[str, Any]]


def _skip(events: Events, first: str, *, name: str, row: int | None) -> None:
    """Read past a value that began with ``first`` without building it (bounded: ``SKIP_EVENTS``, ``SKIP_DEPTH``)."""
    if first not in _OPENS:
        return
    depth = 1
    for count, (event, _) in enumerate(events):
        if event in _OPENS:
            depth += 1
        elif event in _CLOSES:
            depth -= 1
            if depth == 0:
                return
        if depth > SKIP_DEPTH or count > SKIP_EVENTS:
            raise Unprocessable(
                f"{name[:60]}: {_TOO_BIG_TO_SKIP}",
                kind="validation",
                errors=[FieldError(row=row, field=name[:60], reason=_TOO_BIG_TO_SKIP)],
            )


class _NotAValue:
    """Where a list or object stood for a field's single value (it is not kept)."""


_NESTED = _NotAValue()


class _JsonReader:
    """Rows from the parser's events: the rows of a top-level list, or of the ``rows`` list of an object."""

    def __init__(self, events: Events, max_rows: int) -> None:
        self.events = events
        self.max_rows = max_rows
        self.read = 0  # rows read whole
        self.taken = bytearray(max_rows + 1)  # which row numbers are in use: max_rows bytes, not a set of ints

    def rows(self) -> Iterator[Row]:
        event, _ = next(self.events, ("", None))
        if event == "start_array":
            yield from self._list()
        elif event == "start_map":
            found, others = False, 0
            for event, key in self.events:
                if event == "end_map":
                    break
                first, _ = next(self.events)
                if key != "rows":
                    others += 1
                    if others > ROW_FIELDS:
                        raise Unprocessable.field("file", f'more than {ROW_FIELDS} fields beside "rows"')
                    _skip(self.events, first, name=key, row=None)
                elif found:
                    raise Unprocessable.field("rows", '"rows" appears twice')
                elif first != "start_array":
                    raise Unprocessable.field("rows", _ROWS_EXPECTED)
                else:
                    found = True
                    yield from self._list()
            if not found:
                raise Unprocessable.field("rows", _ROWS_EXPECTED)
        else:
            raise Unprocessable.field("rows", _ROWS_EXPECTED)
        for _ in self.events:  # the rest of the document, so that trailing garbage is found
            pass

    def _list(self) -> Iterator[Row]:
        for event, _ in self.events:
            if event == "end_array":
                return
            place = self.read + 1
            if place > self.max_rows:
                raise too_many_rows(self.max_rows)
            if event == "start_map":
                values, errors = self._object(place)
            else:
                _skip(self.events, event, name="row", row=place)
                values, errors = {}, [FieldError(field="row", reason="not a JSON object")]
            # A row may carry its own number (the proposal's line), which the report then uses.
            own = values.pop("row", None)
            number = place if own is None else self._own_number(own, place)
            if self.taken[number]:
                raise Unprocessable(
                    f"row: row {number} appears twice in the file",
                    kind="validation",
                    errors=[FieldError(row=place, field="row", reason=f"row {number} appears twice in the file")],
                )
            self.taken[number] = 1
            self.read = place
            for error in errors:
                error.row = number
            yield Row(number, values, errors)

    def _own_number(self, own: Any, place: int) -> int:
        if isinstance(own, int) and not isinstance(own, bool) and 1 <= own <= self.max_rows:
            return own
        reason = f"a row's number is a whole number from 1 to {self.max_rows}"
        raise Unprocessable(
            f"row: {reason}", kind="validation", errors=[FieldError(row=place, field="row", reason=reason)]
        )

    def _object(self, place: int) -> tuple[dict[str, Any], list[FieldError]]:
        """One row's fields: single values only; a list or object where a value belongs is skipped, not built."""
        values: dict[str, Any] = {}
        errors: list[FieldError] = []
        fields = 0
        for event, key in self.events:
            if event == "end_map":
                break
            fields += 1
            event, value = next(self.events)
            if fields > ROW_FIELDS:
                _skip(self.events, event, name=key, row=place)
                if fields == ROW_FIELDS + 1:
                    values = {"row": values["row"]} if "row" in values else {}
                    errors = [FieldError(field="row", reason=_TOO_MANY_FIELDS)]
                continue
            if event in _OPENS:
                _skip(self.events, event, name=key, row=place)
                values[key] = _NESTED
                if key != "row":
                    errors.append(FieldError(field=key[:60], reason=_SINGLE_VALUE))
            else:
                values[key] = value
        return values, errors


def json_rows(file: IO[bytes], *, max_rows: int) -> Iterator[Row]:
    """The rows of a JSON list (or of an object's ``rows`` list), read as a stream: one row in memory at a time.
    A row is a flat object; a row without its own ``row`` number is numbered by its place (1 = the first)."""
    if file.read(len(codecs.BOM_UTF8)) != codecs.BOM_UTF8:
        file.seek(0)
    # Numbers as the parser reads them (64-bit integers, floats): a longer number is unreadable, which keeps a
    # 5,000-digit "row" from ever becoming a Python int (or a Decimal of any exponent).
    reader = _JsonReader(ijson.basic_parse(file, use_float=True), max_rows)
    try:
        yield from reader.rows()
    except ijson.JSONError:
        where = f" after row {reader.read}" if reader.read else ""
        reason = f"unreadable JSON{where}: bad syntax, text not in UTF-8, or a number too large"
        raise Unprocessable.field("file", reason) from None
