"""A proposal file costs the office no more than a real kecamatan's proposal: bounded bytes, rows, stored errors
and memory. Odd rows are row errors, a refused file says why in the clerk's words, and a refusal stores nothing."""

from __future__ import annotations

import io
import json
import tracemalloc
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from services.request.batches.files import json_rows
from services.request.config import Settings
from services.request.models import AuditEvent, Batch, BatchError, PrintRequest
from tests.factories import PORTRAIT, SIGNATURE_SCAN, batch_row, to_csv
from tests.request.conftest import InProcessRequestService

MiB = 1024 * 1024
# What a clerk must never read: Python's exception names, codecs, byte offsets.
LEAKS = ("Error", "codec", "0x", "position", "Traceback", "Decimal", "yajl")


async def stored(office: InProcessRequestService) -> dict[str, int]:
    """How many batches, batch errors, requests and audit events the database holds."""
    async with office.app.state.db.sessions() as session:
        return {
            model.__tablename__: int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Batch, BatchError, PrintRequest, AuditEvent)
        }


NOTHING = {"batches": 0, "batch_errors": 0, "print_requests": 0, "audit_events": 0}


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    said = json.dumps(body)
    assert not any(leak in said for leak in LEAKS), said
    return body


def as_json(rows: list[Any]) -> bytes:
    return json.dumps({"kecamatan_code": "18.09.01", "rows": rows}).encode()


async def post(client: Any, content: bytes, kind: str, **kwargs: Any) -> Any:
    if kind == "multipart":
        return await client.post("/v1/batches", files={"file": ("usulan.csv", content, "text/csv")}, **kwargs)
    if kind == "chunked":

        async def pieces() -> AsyncIterator[bytes]:
            for start in range(0, len(content), 1000):
                yield content[start : start + 1000]

        return await client.post("/v1/batches", content=pieces(), headers={"Content-Type": "text/csv"}, **kwargs)
    content_type = {"csv": "text/csv", "json": "application/json"}[kind]
    return await client.post("/v1/batches", content=content, headers={"Content-Type": content_type}, **kwargs)


# --- the size of a file ---------------------------------------------------------------------------------------


def test_the_default_limits_fit_the_biggest_kecamatans_proposal_and_not_much_more(
    request_settings: Callable[..., Settings],
) -> None:
    settings = request_settings()
    # A JSON row with a passport-sized photo and a signature scan, as the front desk's camera gives them.
    row = len(json.dumps(batch_row(1, photo=PORTRAIT, signature=SIGNATURE_SCAN))) + 2
    assert 60_000 <= settings.batch_max_rows <= 100_000  # Pesawaran's biggest kecamatan: ~60,000 residents
    assert settings.batch_max_rows * row <= settings.batch_max_bytes <= 256 * MiB
    assert settings.batch_report_max_errors <= 1_000


@pytest.mark.parametrize("kind", ["csv", "json", "multipart", "chunked"])
async def test_an_upload_over_the_byte_limit_is_refused_as_too_large_and_nothing_is_stored(
    open_office: Callable[..., Any], kind: str
) -> None:
    rows = [batch_row(n) for n in range(1, 11)]  # about 11 KB
    content = as_json(rows) if kind == "json" else to_csv(rows)
    async with open_office(batch_max_bytes=8 * 1024) as office:
        clerk = office.as_("clerk")
        assert_problem(await post(clerk, content, kind), 413)
        assert await stored(office) == NOTHING
        # Within the limit, the same rows are a batch.
        assert (await post(clerk, to_csv(rows[:5]), "csv")).status_code == 201


@pytest.mark.parametrize("kind", ["csv", "json"])
async def test_a_batch_over_the_row_cap_is_refused_naming_rows_and_nothing_is_half_written(
    open_office: Callable[..., Any], kind: str
) -> None:
    rows = [batch_row(n) for n in range(1, 8)]
    encode = as_json if kind == "json" else to_csv
    # Chunks of two rows: three chunks are inserted before the seventh row is read, and all are rolled back.
    async with open_office(batch_max_rows=6, batch_chunk_rows=2) as office:
        operator = office.as_("operator")
        body = assert_problem(await post(operator, encode(rows), kind), 413)
        assert [(e["field"], e["reason"]) for e in body["errors"]] == [
            ("rows", "more than 6 rows: a batch is one kecamatan's proposal; split the file")
        ]
        assert await stored(office) == NOTHING
        accepted = await post(operator, encode(rows[:6]), kind)
        assert (accepted.status_code, accepted.json()["accepted_rows"]) == (201, 6)


async def test_blank_csv_lines_are_skipped_but_not_without_end(open_office: Callable[..., Any]) -> None:
    rows = to_csv([batch_row(1), batch_row(2)])
    header, _, data = rows.partition(b"\r\n")
    async with open_office(batch_max_rows=5) as office:
        operator = office.as_("operator")
        spaced = header + b"\r\n\r\n" + data.replace(b"\r\n", b"\r\n\r\n,,\r\n")
        assert (await post(operator, spaced, "csv")).json()["accepted_rows"] == 2
        body = assert_problem(await post(operator, header + b"\r\n" + b"\r\n" * 10 + data, "csv"), 413)
        assert body["errors"][0]["field"] == "rows"
        assert (await stored(office))["print_requests"] == 2


# --- the errors a file may leave ------------------------------------------------------------------------------


async def test_a_file_of_empty_rows_lists_the_first_errors_and_counts_every_refused_row(
    open_office: Callable[..., Any],
) -> None:
    rows: list[Any] = [batch_row(1), *([{}] * 2000), batch_row(2)]
    async with open_office(batch_report_max_errors=50) as office:
        clerk = office.as_("clerk")
        batch = (await post(clerk, as_json(rows), "json")).json()
        assert (batch["total_rows"], batch["accepted_rows"], batch["rejected_rows"]) == (2002, 2, 2000)
        report = (await clerk.get(batch["report"], params={"limit": 500})).json()
        # An empty row misses 16 fields: three whole rows fit in 50 errors; the other 1,997 are counted only.
        assert (report["total"], report["listed_rows"], report["unlisted_rows"]) == (48, 3, 1997)
        assert sorted({e["row"] for e in report["errors"]}) == [2, 3, 4]
        assert (await stored(office))["batch_errors"] == 48


async def test_a_row_lists_at_most_twenty_errors_and_says_how_many_more(office: InProcessRequestService) -> None:
    clerk = office.as_("clerk")
    junk = {f"extra_{n}": "x" for n in range(40)}
    batch = (await post(clerk, as_json([batch_row(1), {**batch_row(2), **junk}]), "json")).json()
    assert (batch["accepted_rows"], batch["rejected_rows"]) == (1, 1)
    report = (await clerk.get(batch["report"], params={"limit": 500})).json()
    assert len(report["errors"]) == 20
    assert report["errors"][-1] == {"row": 2, "field": "row", "reason": "21 more errors in this row"}
    assert (report["listed_rows"], report["unlisted_rows"]) == (1, 0)


# --- row numbers --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    [10**18, 0, -1, 75_001, "7", 1.5, True, [3], {"n": 3}],
    ids=["10**18", "zero", "negative", "past-the-cap", "text", "fraction", "true", "list", "object"],
)
async def test_a_row_number_must_be_a_whole_number_from_one_to_the_cap(
    office: InProcessRequestService, number: Any
) -> None:
    operator = office.as_("operator")
    rows = [{**batch_row(1), "row": 1}, {**batch_row(2), "row": number}]
    body = assert_problem(await post(operator, as_json(rows), "json"), 422)
    assert body["errors"] == [{"row": 2, "field": "row", "reason": "a row's number is a whole number from 1 to 75000"}]
    assert await stored(office) == NOTHING


async def test_a_row_number_used_twice_refuses_the_file(office: InProcessRequestService) -> None:
    operator = office.as_("operator")
    rows = [{**batch_row(1), "row": 2}, batch_row(2)]  # the second row is row 2 by its place
    body = assert_problem(await post(operator, as_json(rows), "json"), 422)
    assert body["errors"] == [{"row": 2, "field": "row", "reason": "row 2 appears twice in the file"}]
    assert await stored(office) == NOTHING
    # Own numbers that leave gaps are fine, and null is no number.
    rows = [{**batch_row(1), "row": 40}, {**batch_row(2), "row": None}, {**batch_row(3, rt="12"), "row": 7}]
    batch = (await post(operator, as_json(rows), "json")).json()
    assert (batch["accepted_rows"], batch["rejected_rows"]) == (2, 1)
    report = (await operator.get(batch["report"])).json()
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(7, "rt")]


# --- odd rows -----------------------------------------------------------------------------------------------


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


async def test_odd_values_in_a_json_row_are_row_errors(office: InProcessRequestService) -> None:
    operator = office.as_("operator")
    row = json.dumps(batch_row(9)).encode()
    parts = [
        json.dumps(batch_row(1)).encode(),  # 1: valid
        b'{"name": ' + nested(5) + b"}",  # 2: a list in a field
        json.dumps({**batch_row(3), "address": "X" * 1_000_000}).encode(),  # 3: a megabyte of address
        b"[1, 2, 3]",  # 4: not an object
        b'"a row"',  # 5: not an object
        json.dumps({f"k{n}": n for n in range(100)}).encode(),  # 6: a hundred fields
        row[:-1] + b', "photo": {"a": {"b": [1, 2]}}}',  # 7: an object for the photo
        json.dumps({**batch_row(8), "rt": 10**15, "sex": None, "old_ktp_seen": 1e300}).encode(),  # 8: numbers
    ]
    response = await post(operator, b'{"rows": [' + b",".join(parts) + b"]}", "json")
    assert response.status_code == 201, response.text
    batch = response.json()
    assert (batch["accepted_rows"], batch["rejected_rows"]) == (1, 7)
    errors = (await operator.get(batch["report"], params={"limit": 500})).json()["errors"]
    found = {(e["row"], e["field"], e["reason"]) for e in errors}
    single = "a single value is expected (text, a number, true or false), not a list or an object"
    assert (2, "name", single) in found
    assert (3, "address", "String should have at most 200 characters") in found
    assert (4, "row", "not a JSON object") in found
    assert (5, "row", "not a JSON object") in found
    assert (6, "row", "more than 64 fields (a print request has 23)") in found
    assert (7, "photo", single) in found
    assert {field for row, field, _ in found if row == 8} == {"rt", "sex", "old_ktp_seen"}
    assert "X" * 1000 not in json.dumps(errors)


UNREADABLE = "unreadable JSON{}: bad syntax, text not in UTF-8, or a number too large"
TOO_BIG = "a list or object too large or too deep: a field is a single value"


@pytest.mark.parametrize(
    ("content", "field", "reason"),
    [
        (b'{"rows": [{"name": ' + nested(100_000) + b"}]}", "name", TOO_BIG),
        (b'{"rows": [{"name": [' + b"1," * 20_000 + b"1]}]}", "name", TOO_BIG),
        (b'{"rows": [], "notes": ' + nested(100_000) + b"}", "notes", TOO_BIG),
        (b'{"rows": [{}, {"row": ' + str(10**30).encode() + b"}]}", "file", UNREADABLE.format(" after row 1")),
        (b'{"rows": [{"rt": ' + b"9" * 5000 + b"}]}", "file", UNREADABLE.format("")),
        (b'{"rows": [{"rt": "001"}, {"name": "\xff"}]}', "file", UNREADABLE.format(" after row 1")),
        (b'{"rows": [{}, {"rt": "001",}]}', "file", UNREADABLE.format(" after row 1")),
        (b"\xef\xbb\xbf[{}] trailing", "file", UNREADABLE.format(" after row 1")),
        (b'{"rows": "none"}', "rows", 'a JSON list of requests (or {"rows": [...]}) is expected'),
        (b'{"rows": [], "rows": []}', "rows", '"rows" appears twice'),
        (b"12", "rows", 'a JSON list of requests (or {"rows": [...]}) is expected'),
        (b"[]", "file", "no data rows"),
    ],
    ids=["deep-row", "long-list", "deep-outside", "row-10**30", "5000-digits", "not-utf8", "syntax", "trailing",
         "rows-text", "rows-twice", "a-number", "empty"],
)  # fmt: skip
async def test_a_json_file_that_cannot_be_read_is_refused_in_the_clerks_words(
    office: InProcessRequestService, content: bytes, field: str, reason: str
) -> None:
    body = assert_problem(await post(office.as_("operator"), content, "json"), 422)
    assert [(e["field"], e["reason"]) for e in body["errors"]] == [(field, reason)]
    assert await stored(office) == NOTHING


HEADER = to_csv([batch_row(1)]).partition(b"\r\n")[0] + b"\r\n"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\xff\xfenik,name\r\n", "not UTF-8 text"),
        (b"", "empty"),
        (b"\r\n", "no header row"),
        (HEADER + b"\r\n" * 3, "no data rows"),
        (b"nik," + b"x" * 200_000 + b"\r\n", "the header row is not a CSV line"),
    ],
    ids=["header", "empty", "no-header", "no-rows", "header-too-long"],
)
async def test_a_csv_file_that_cannot_be_read_is_refused_in_the_clerks_words(
    office: InProcessRequestService, content: bytes, reason: str
) -> None:
    body = assert_problem(await post(office.as_("operator"), content, "csv"), 422)
    assert [(e["field"], e["reason"]) for e in body["errors"]] == [("file", reason)]
    assert await stored(office) == NOTHING


async def test_text_that_is_not_utf8_names_the_last_row_read_before_it(office: InProcessRequestService) -> None:
    # Text is decoded a block at a time: the row named is at most a block's worth of rows before the bad byte.
    content = to_csv([batch_row(n) for n in range(1, 201)]) + b"\xff\xfe,\r\n"
    body = assert_problem(await post(office.as_("operator"), content, "csv"), 422)
    [error] = body["errors"]
    assert error["field"] == "file"
    assert error["reason"].startswith("not UTF-8 text (after row ")
    assert 190 <= int(error["reason"].removeprefix("not UTF-8 text (after row ").rstrip(")")) <= 200
    assert await stored(office) == NOTHING


async def test_a_csv_value_past_the_csv_field_limit_is_a_row_error(office: InProcessRequestService) -> None:
    operator = office.as_("operator")
    content = to_csv([batch_row(1), batch_row(2, address="X" * 200_000), batch_row(3)])
    batch = (await post(operator, content, "csv")).json()
    assert (batch["accepted_rows"], batch["rejected_rows"]) == (2, 1)
    errors = (await operator.get(batch["report"])).json()["errors"]
    assert errors == [
        {"row": 2, "field": "row", "reason": "not a CSV line: a value over 131072 characters, or a stray quote"}
    ]


async def test_a_csv_header_of_thousands_of_unknown_columns_names_the_first_twenty(
    office: InProcessRequestService,
) -> None:
    operator = office.as_("operator")
    header = ",".join([*batch_row(1), *(f"hobby_{n}" for n in range(5000))])
    body = assert_problem(await post(operator, header.encode() + b"\r\n", "csv"), 422)
    assert [e["field"] for e in body["errors"]] == [f"hobby_{n}" for n in range(20)]
    assert body["detail"].endswith("and 4980 more")
    assert await stored(office) == NOTHING


# --- memory ---------------------------------------------------------------------------------------------------


def test_reading_a_json_batch_holds_a_row_at_a_time_not_the_file() -> None:
    rows = [{**batch_row(n, photo=PORTRAIT, signature=SIGNATURE_SCAN), "row": n} for n in range(1, 3001)]
    content = as_json(rows)
    assert len(content) > 5 * MiB
    file = io.BytesIO(content)
    tracemalloc.start()
    try:
        count = sum(1 for _ in json_rows(file, max_rows=75_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 3000
    assert peak < MiB // 2, f"{peak / MiB:.1f} MiB to read a {len(content) / MiB:.1f} MiB file"
