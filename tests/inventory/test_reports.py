"""Reports: the month's spoilage and the destruction minutes (berita acara pemusnahan)."""

from __future__ import annotations

import datetime as dt

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


async def test_the_destruction_minutes_download_as_a_document(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000002")
    await inv.operator.post(
        "/v1/spoilage", json={"serial": "KTP00000002", "reason": "damaged", "witness": "Ani <saksi>"}
    )
    month = dt.datetime.now(dt.UTC).strftime("%Y-%m")

    minutes = await inv.admin.get("/v1/reports/spoilage/minutes", params={"month": month})

    assert minutes.status_code == 200
    assert minutes.headers["content-type"].startswith("text/html")
    assert minutes.headers["content-disposition"] == f'attachment; filename="berita-acara-pemusnahan-{month}.html"'
    assert "Berita Acara Pemusnahan" in minutes.text
    assert "KTP00000002" in minutes.text
    assert "Ani &lt;saksi&gt;" in minutes.text  # escaped, never raw HTML


async def test_a_malformed_month_is_422(inv: Inventory) -> None:
    for month in ("2026-13", "November"):
        response = await inv.operator.get("/v1/reports/spoilage", params={"month": month})
        assert response.status_code == 422
