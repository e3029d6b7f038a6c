"""Receiving tranches of blanks: ranges, idempotency by reference, overlaps, size."""

from __future__ import annotations

from tests.inventory.conftest import Inventory

BODY = {
    "reference": "PUSAT/2026/11/001",
    "received_on": "2026-11-02",
    "ranges": [{"first": "KTP00000001", "last": "KTP00000010"}, {"first": "KTP00000101", "last": "KTP00000105"}],
    "received_by": "Siti (gudang)",
}


async def test_a_tranche_of_two_ranges_adds_every_serial_as_available(inv: Inventory) -> None:
    created = await inv.operator.post("/v1/tranches", json=BODY)
    assert created.status_code == 201
    assert created.json()["count"] == 15
    stock = await inv.stock()
    assert (stock["received"], stock["available"]) == (15, 15)
    assert stock["tranches"][0]["reference"] == "PUSAT/2026/11/001"
    serial = (await inv.operator.get("/v1/serials/KTP00000103")).json()
    assert serial["blank"]["state"] == "available"
    assert (await inv.operator.get("/v1/serials/KTP00000011")).status_code == 404


async def test_the_same_tranche_posted_again_returns_the_one_on_record(inv: Inventory) -> None:
    first = await inv.operator.post("/v1/tranches", json=BODY)
    again = await inv.operator.post("/v1/tranches", json=BODY)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert (await inv.stock())["received"] == 15


async def test_the_same_reference_with_other_ranges_is_a_conflict(inv: Inventory) -> None:
    await inv.operator.post("/v1/tranches", json=BODY)
    other = await inv.operator.post(
        "/v1/tranches", json=BODY | {"ranges": [{"first": "KTP00000200", "last": "KTP00000201"}]}
    )
    assert other.status_code == 409
    assert other.json()["type"].endswith("/tranche-reference-conflict")


async def test_a_tranche_overlapping_blanks_on_record_is_refused_naming_them(inv: Inventory) -> None:
    await inv.operator.post("/v1/tranches", json=BODY)
    overlap = await inv.operator.post(
        "/v1/tranches",
        json=BODY | {"reference": "PUSAT/2026/11/002", "ranges": [{"first": "KTP00000009", "last": "KTP00000050"}]},
    )
    assert overlap.status_code == 409
    assert overlap.json()["type"].endswith("/serial-overlap")
    assert overlap.json()["serials"] == ["KTP00000009", "KTP00000010"]
    assert (await inv.stock())["received"] == 15


async def test_serials_of_another_width_or_prefix_do_not_overlap(inv: Inventory) -> None:
    await inv.receive("A", "KTP00000001", "KTP00000010")
    await inv.receive("B", "KTP000000010", "KTP000000012")
    await inv.receive("C", "KTPX00000001", "KTPX00000002")
    assert (await inv.stock())["received"] == 15


async def test_invalid_ranges_get_422_naming_the_range(inv: Inventory) -> None:
    for ranges, reason in (
        ([{"first": "KTP00000010", "last": "KTP00000001"}], "comes before"),
        ([{"first": "KTP00000001", "last": "KTQ00000002"}], "prefix or width"),
        ([{"first": "KTP01", "last": "KTP05"}, {"first": "KTP03", "last": "KTP09"}], "overlaps"),
    ):
        response = await inv.operator.post("/v1/tranches", json=BODY | {"ranges": ranges})
        assert response.status_code == 422, ranges
        assert reason in response.json()["errors"][0]["reason"]
    lower = await inv.operator.post("/v1/tranches", json=BODY | {"ranges": [{"first": "ktp1", "last": "ktp2"}]})
    assert lower.status_code == 422


async def test_a_full_tranche_of_8016_blanks_is_received_serial_by_serial(inv: Inventory) -> None:
    # Its speed is measured in bench/bench_inventory.py, not asserted here.
    await inv.receive("PUSAT/2026/11/BIG", "KTP00010001", "KTP00018016")
    assert (await inv.stock())["received"] == 8016
    for serial in ("KTP00010001", "KTP00018016"):
        custody = (await inv.operator.get(f"/v1/serials/{serial}")).json()
        assert custody["blank"]["state"] == "available", custody


async def test_only_operators_and_admins_receive_tranches(inv: Inventory) -> None:
    for client in (inv.service, inv.clerk):
        assert (await client.post("/v1/tranches", json=BODY)).status_code == 403
    assert (await inv.admin.post("/v1/tranches", json=BODY)).status_code == 201
    audit = (await inv.admin.get("/v1/audit", params={"action": "tranche.received"})).json()
    assert audit["items"][0]["after"]["count"] == 15
    assert audit["items"][0]["actor"] == "admin-1"
