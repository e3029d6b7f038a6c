"""Reports: the month's spoilage and the destruction minutes (berita acara pemusnahan)."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser

from services.inventory.reports.service import month_bounds, wib
from tests.inventory.conftest import Inventory


async def test_the_months_spoilage_lists_serials_reasons_and_witnesses(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000005")
    await inv.reserve("job_a")
    await inv.spoil("job_a", "KTP00000001", "failed_encode")
    await inv.operator.post("/v1/spoilage", json={"serial": "KTP00000004", "reason": "damaged", "witness": "Ani"})
    month = dt.datetime.now(dt.UTC).strftime("%Y-%m")

    report = (await inv.operator.get("/v1/reports/spoilage", params={"month": month})).json()

    assert report["total"] == 2
    assert report["by_reason"] == {"failed_encode": 1, "damaged": 1}
    assert [(i["serial"], i["reason"], i["witness"]) for i in report["items"]] == [
        ("KTP00000001", "failed_encode", "Budi"),
        ("KTP00000004", "damaged", "Ani"),
    ]
    assert report["items"][0]["tranche_reference"] == "TR-1"
    empty = (await inv.operator.get("/v1/reports/spoilage", params={"month": "2020-01"})).json()
    assert empty["total"] == 0


class _Rows(HTMLParser):
    """The cells of every table row of a document, as text."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _minutes_rows(document: str) -> dict[str, dict[str, str]]:
    """The minutes' list of blanks, by serial: each row's cells under the heading's names."""
    parser = _Rows()
    parser.feed(document)
    at = next(n for n, row in enumerate(parser.rows) if "Nomor seri" in row)
    heading = parser.rows[at]
    rows = [dict(zip(heading, row, strict=True)) for row in parser.rows[at + 1 :] if len(row) == len(heading)]
    return {row["Nomor seri"]: row for row in rows}


async def test_the_destruction_minutes_download_as_a_document(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000003")
    await inv.operator.post(
        "/v1/spoilage", json={"serial": "KTP00000002", "reason": "damaged", "witness": "Ani <saksi>"}
    )
    # One spoiled at the printer, through the job's reservation: the gateway names the printer and the witness.
    assert (await inv.reserve("job_a")).status_code == 201
    assert (await inv.spoil("job_a", "KTP00000003", "failed_encode")).status_code == 200
    month = dt.datetime.now(dt.UTC).strftime("%Y-%m")

    minutes = await inv.admin.get("/v1/reports/spoilage/minutes", params={"month": month})

    assert minutes.status_code == 200
    assert minutes.headers["content-type"].startswith("text/html")
    assert minutes.headers["content-disposition"] == f'attachment; filename="berita-acara-pemusnahan-{month}.html"'
    assert "Berita Acara Pemusnahan" in minutes.text
    assert "Ani &lt;saksi&gt;" in minutes.text  # escaped, never raw HTML
    rows = _minutes_rows(minutes.text)
    assert set(rows) == {"KTP00000002", "KTP00000003"}
    shelf, printed = rows["KTP00000002"], rows["KTP00000003"]
    assert (shelf["Tranche"], shelf["Alasan"], shelf["Saksi"], shelf["Printer"]) == ("TR-1", "Rusak", "Ani <saksi>", "")
    assert (printed["Tranche"], printed["Alasan"], printed["Saksi"], printed["Printer"]) == (
        "TR-1",
        "Gagal encode chip",
        "Budi",
        "printer-1",
    )
    assert "Rusak: 1, Gagal encode chip: 1" in minutes.text  # the summary by reason


async def test_a_malformed_month_is_422(inv: Inventory) -> None:
    for month in ("2026-13", "November"):
        response = await inv.operator.get("/v1/reports/spoilage", params={"month": month})
        assert response.status_code == 422


def test_the_minutes_months_and_times_are_the_offices_in_wib() -> None:
    """A blank spoiled at 01:00 WIB on 1 December (18:00 UTC on 30 November) belongs to December's minutes."""
    start, end = month_bounds("2026-12")
    spoiled = dt.datetime(2026, 11, 30, 18, 0, tzinfo=dt.UTC)
    assert start <= spoiled < end
    assert not (month_bounds("2026-11")[0] <= spoiled < month_bounds("2026-11")[1])
    assert wib(spoiled) == "2026-12-01 01:00 WIB"
