"""Returned cards through HTTP: old e-KTP cards the request service hands over (idempotent by serial), kept in
custody, destroyed before a witness, and listed in the month's destruction minutes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.inventory.conftest import Inventory


def returned(serial: str = "KTP00000001", request_id: str = "req-1", **extra: Any) -> dict[str, Any]:
    return {
        "serial": serial,
        "request_id": request_id,
        "received_by": "ANI (loket 2)",
        "received_at": dt.datetime.now(dt.UTC).isoformat(),
        "note": "replaced: damaged",
    } | extra


async def test_a_returned_card_is_taken_into_custody_once_per_serial(inv: Inventory) -> None:
    body = returned()

    first = await inv.service.post("/v1/returned-cards", json=body)
    again = await inv.service.post("/v1/returned-cards", json=body, headers={"Idempotency-Key": "returned-card:x"})
    other = await inv.service.post("/v1/returned-cards", json=returned(request_id="req-2"))

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert (first.json()["state"], first.json()["recorded_by"]) == ("in_custody", "gateway-1")
    assert other.status_code == 409
    assert other.json()["type"].endswith("/returned-card-conflict")
    listed = await inv.operator.get("/v1/returned-cards")
    assert [c["serial"] for c in listed.json()["items"]] == ["KTP00000001"]


async def test_a_returned_card_is_destroyed_once_before_a_witness(inv: Inventory) -> None:
    await inv.service.post("/v1/returned-cards", json=returned())

    destroyed = await inv.operator.post("/v1/returned-cards/KTP00000001/destroy", json={"witness": "BUDI"})
    again = await inv.operator.post("/v1/returned-cards/KTP00000001/destroy", json={"witness": "BUDI"})
    other = await inv.operator.post("/v1/returned-cards/KTP00000001/destroy", json={"witness": "CITRA"})
    unknown = await inv.operator.post("/v1/returned-cards/KTP09999999/destroy", json={"witness": "BUDI"})
    by_service = await inv.service.post("/v1/returned-cards/KTP00000001/destroy", json={"witness": "BUDI"})

    assert destroyed.status_code == again.status_code == 200, destroyed.text
    card = destroyed.json()
    assert (card["state"], card["witness"], card["destroyed_by"]) == ("destroyed", "BUDI", "desk-1")
    assert card["destroyed_at"] is not None
    assert other.status_code == 409
    assert unknown.status_code == 404
    assert by_service.status_code == 403
    assert (await inv.operator.get("/v1/returned-cards", params={"state": "in_custody"})).json()["total"] == 0
    audit = await inv.admin.get("/v1/audit", params={"object_type": "returned_card", "object_id": "KTP00000001"})
    assert [e["action"] for e in reversed(audit.json()["items"])] == [
        "returned_card.received",
        "returned_card.destroyed",
    ]


async def test_the_destruction_minutes_list_every_returned_card_received_or_destroyed_in_the_month(
    inv: Inventory,
) -> None:
    now = dt.datetime.now(dt.UTC)
    month = now.strftime("%Y-%m")
    last_month_day = now.replace(day=1) - dt.timedelta(days=3)
    last_month = last_month_day.strftime("%Y-%m")
    # Received last month and destroyed now; received now and still kept; received long ago and never touched.
    await inv.service.post("/v1/returned-cards", json=returned("KTP00000001", received_at=last_month_day.isoformat()))
    await inv.operator.post("/v1/returned-cards/KTP00000001/destroy", json={"witness": "BUDI <saksi>"})
    await inv.service.post("/v1/returned-cards", json=returned("KTP00000002", "req-2"))
    await inv.service.post(
        "/v1/returned-cards", json=returned("KTP00000003", "req-3", received_at="2020-01-15T08:00:00+00:00")
    )

    minutes = await inv.operator.get("/v1/reports/spoilage/minutes", params={"month": month})
    earlier = await inv.operator.get("/v1/reports/spoilage/minutes", params={"month": last_month})
    in_month = await inv.operator.get("/v1/returned-cards", params={"month": month})

    assert minutes.status_code == 200
    assert "KTP00000001" in minutes.text
    assert "KTP00000002" in minutes.text
    assert "KTP00000003" not in minutes.text
    assert "BUDI &lt;saksi&gt;" in minutes.text  # escaped, never raw HTML
    assert "Dimusnahkan" in minutes.text
    assert "Disimpan" in minutes.text
    assert "dimusnahkan bulan ini: <strong>1</strong>" in minutes.text
    assert "KTP00000001" in earlier.text
    assert "KTP00000002" not in earlier.text
    assert sorted(c["serial"] for c in in_month.json()["items"]) == ["KTP00000001", "KTP00000002"]


async def test_only_the_request_service_hands_cards_over_and_clerks_read_nothing(inv: Inventory) -> None:
    for role in ("operator", "admin", "clerk", "partner"):
        response = await inv.by_role[role].post("/v1/returned-cards", json=returned())
        assert response.status_code == 403, role
    for role in ("clerk", "partner"):
        assert (await inv.by_role[role].get("/v1/returned-cards")).status_code == 403, role
    assert (await inv.operator.get("/v1/returned-cards/KTP00000001")).status_code == 404
