"""The ledger: a serial's chain of custody, spoilage outside a reservation, admin adjustments, roles."""

from __future__ import annotations

from tests.inventory.conftest import Inventory


async def test_a_serials_custody_shows_receipt_reservation_and_consumption(inv: Inventory) -> None:
    tranche = await inv.receive("TR-1", "KTP00000001", "KTP00000003")
    await inv.reserve("job_a")
    await inv.reserve("job_b")
    await inv.consume("job_a", "KTP00000002", request_id="req-42")

    custody = (await inv.service.get("/v1/serials/KTP00000002")).json()

    assert custody["blank"]["state"] == "consumed"
    assert (custody["blank"]["job_id"], custody["blank"]["request_id"]) == ("job_a", "req-42")
    assert custody["tranche_reference"] == "TR-1"
    steps = [(m["kind"], m["job_id"]) for m in custody["movements"]]
    assert steps == [("received", None), ("reserved", "job_a"), ("consumed", "job_a")]
    assert custody["movements"][0]["tranche_id"] == tranche["id"]
    assert custody["movements"][2]["printer_id"] == "printer-1"
    untouched = (await inv.service.get("/v1/serials/KTP00000003")).json()
    assert [m["kind"] for m in untouched["movements"]] == ["received"]


async def test_a_blank_spoiled_on_the_shelf_is_recorded_with_reason_and_witness(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000003")
    response = await inv.operator.post(
        "/v1/spoilage", json={"serial": "KTP00000003", "reason": "damaged", "witness": "Budi"}
    )
    assert response.status_code == 201
    assert response.json()["state"] == "spoiled"
    stock = await inv.stock()
    assert (stock["available"], stock["spoiled"]) == (2, 1)
    again = await inv.operator.post("/v1/spoilage", json={"serial": "KTP00000003", "reason": "damaged", "witness": "B"})
    assert again.status_code == 409
    assert again.json()["type"].endswith("/serial-spoiled")


async def test_shelf_spoilage_cannot_take_a_blank_counted_by_a_reservation(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000001")
    await inv.reserve("job_a")
    response = await inv.operator.post(
        "/v1/spoilage", json={"serial": "KTP00000001", "reason": "damaged", "witness": "Budi"}
    )
    assert response.status_code == 409
    assert response.json()["type"].endswith("/blanks-all-reserved")


async def test_an_admin_writes_a_lost_blank_off_and_restores_it_when_found(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000003")
    body = {"serial": "KTP00000002", "action": "write_off", "reason": "missing at stock take", "witness": "Ani"}
    assert (await inv.operator.post("/v1/adjustments", json=body)).status_code == 403
    assert (await inv.admin.post("/v1/adjustments", json=body)).status_code == 201
    invariant = await inv.invariant()
    assert (invariant["available"], invariant["written_off"]) == (2, 1)
    await inv.reserve("job_a")
    lost = await inv.consume("job_a", "KTP00000002")
    assert lost.status_code == 409
    assert lost.json()["type"].endswith("/serial-written-off")

    found = {"serial": "KTP00000002", "action": "restore", "reason": "found behind the printer"}
    assert (await inv.admin.post("/v1/adjustments", json=found)).status_code == 201
    assert (await inv.consume("job_a", "KTP00000002")).status_code == 200
    kinds = [m["kind"] for m in (await inv.admin.get("/v1/serials/KTP00000002")).json()["movements"]]
    assert kinds == ["received", "adjustment", "reserved", "adjustment", "consumed"]


async def test_an_adjustment_needs_a_reason(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000001")
    response = await inv.admin.post("/v1/adjustments", json={"serial": "KTP00000001", "action": "write_off"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "reason"


async def test_movements_are_listed_newest_first_with_filters(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000003")
    await inv.reserve("job_a")
    await inv.consume("job_a", "KTP00000001")
    everything = (await inv.operator.get("/v1/movements", params={"limit": 2})).json()
    assert everything["total"] == 3
    assert [m["kind"] for m in everything["items"]] == ["consumed", "reserved"]
    consumed = (await inv.operator.get("/v1/movements", params={"kind": "consumed"})).json()
    assert [m["serial"] for m in consumed["items"]] == ["KTP00000001"]
    for since, total in (("2020-01-01T00:00:00", 3), ("2999-01-01T00:00:00+07:00", 0)):
        page = await inv.operator.get("/v1/movements", params={"since": since})
        assert page.status_code == 200
        assert page.json()["total"] == total


async def test_clerks_and_partners_read_nothing_of_the_ledger(inv: Inventory) -> None:
    for path in ("/v1/stock", "/v1/stock/invariant", "/v1/movements", "/v1/forecast", "/v1/serials/KTP1"):
        assert (await inv.clerk.get(path)).status_code == 403, path
    assert (await inv.clerk.get("/v1/reports/spoilage", params={"month": "2026-11"})).status_code == 403


async def test_the_invariant_catches_running_balances_that_drift_from_the_ledger(inv: Inventory) -> None:
    from sqlalchemy import text

    await inv.receive("TR-1", "KTP00000001", "KTP00000003")
    await inv.reserve("job_a")
    await inv.consume("job_a", "KTP00000001")
    checked = await inv.invariant()
    assert checked["counters"] == {"unused": 2, "reserved": 0, "used": 1}

    db = inv.app.state.db
    for drift, expected in (
        ("UPDATE stock_lock SET unused = unused + 1", "stock counter: 3 unused"),
        ("UPDATE stock_lock SET reserved = reserved + 1", "stock counter: 1 reserved, 0 open reservations"),
        ("UPDATE usage_days SET used = used + 1", "usage by day: 2 blanks used, 1 by ledger"),
    ):
        async with db.sessions() as session, session.begin():
            await session.execute(text(drift))
        body = (await inv.operator.get("/v1/stock/invariant")).json()
        assert not body["holds"]
        assert any(p.startswith(expected) for p in body["problems"]), body["problems"]
        async with db.sessions() as session, session.begin():  # put it back: the fixture checks on the way out
            await session.execute(text(drift.replace("+ 1", "- 1")))
