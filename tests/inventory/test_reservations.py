"""Reservations through HTTP, as the printer gateway makes them: reserve, consume, spoil, release, hold, expire."""

from __future__ import annotations

import asyncio
import itertools

from tests.inventory.conftest import Inventory, StartInventory
from tests.support import wait_for


async def test_two_hundred_concurrent_reservations_on_fifty_blanks_grant_exactly_fifty(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000050")

    answers = await asyncio.gather(*(inv.reserve(f"job_{n}") for n in range(200)))

    granted = [a for a in answers if a.status_code == 201]
    refused = [a for a in answers if a.status_code == 409]
    assert len(granted) == 50
    assert len(refused) == 150
    assert all(a.json()["type"].endswith("/no-blanks") for a in refused)
    assert all(a.headers["content-type"] == "application/problem+json" for a in refused)
    stock = await inv.stock()
    assert (stock["available"], stock["reserved"]) == (0, 50)


async def test_reserving_again_with_the_same_job_id_returns_the_same_reservation(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000003")
    first = await inv.reserve("job_a")
    again = await inv.reserve("job_a")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert (await inv.stock())["reserved"] == 1


async def test_consuming_again_with_the_same_serial_gives_the_same_answer(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000003")
    await inv.reserve("job_a")
    first = await inv.consume("job_a", "KTP00000002")
    again = await inv.consume("job_a", "KTP00000002")
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.json() == first.json()
    assert first.json()["status"] == "consumed"
    stock = await inv.stock()
    assert (stock["consumed"], stock["reserved"], stock["available"]) == (1, 0, 2)


async def test_a_serial_consumed_twice_is_refused_with_409(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000003")
    await inv.reserve("job_a")
    await inv.reserve("job_b")
    assert (await inv.consume("job_a", "KTP00000001")).status_code == 200

    twice = await inv.consume("job_b", "KTP00000001")

    assert twice.status_code == 409
    assert twice.json()["type"].endswith("/serial-consumed")
    assert "job_a" in twice.json()["detail"]
    assert (await inv.stock())["reserved"] == 1  # job_b still holds its count


async def test_a_serial_never_received_or_already_spoiled_is_refused_with_the_reason(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000003")
    await inv.reserve("job_a")
    await inv.reserve("job_b")
    unknown = await inv.consume("job_a", "KTP99999999")
    assert unknown.status_code == 409
    assert unknown.json()["type"].endswith("/serial-unknown")
    assert (await inv.spoil("job_a", "KTP00000001", "failed_encode")).status_code == 200
    spoiled = await inv.consume("job_b", "KTP00000001")
    assert spoiled.status_code == 409
    assert spoiled.json()["type"].endswith("/serial-spoiled")


async def test_a_consumed_reservation_cannot_consume_another_serial(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000003")
    await inv.reserve("job_a")
    await inv.consume("job_a", "KTP00000001")
    other = await inv.consume("job_a", "KTP00000002")
    assert other.status_code == 409
    assert other.json()["type"].endswith("/reservation-closed")


async def test_a_regular_job_cannot_take_the_urgent_reserve_but_an_urgent_job_can(
    start_inventory: StartInventory,
) -> None:
    async with start_inventory(urgent_reserve_count=2) as inv:
        await inv.receive("TR-1", "KTP00000001", "KTP00000005")
        assert (await inv.stock())["available_to_regular"] == 3
        for n in range(3):
            assert (await inv.reserve(f"job_r{n}")).status_code == 201

        regular = await inv.reserve("job_r3")

        assert regular.status_code == 409
        assert regular.json()["type"].endswith("/no-blanks")
        assert regular.json()["urgent_reserve"] == 2
        assert (await inv.reserve("job_u1", urgent=True)).status_code == 201
        assert (await inv.reserve("job_u2", urgent=True)).status_code == 201
        assert (await inv.reserve("job_u3", urgent=True)).status_code == 409


async def test_the_urgent_reserve_can_be_a_share_of_the_unused_blanks(start_inventory: StartInventory) -> None:
    async with start_inventory(urgent_reserve_share=0.1) as inv:
        await inv.receive("TR-1", "KTP00000001", "KTP00000020")
        stock = await inv.stock()
        assert (stock["urgent_reserve"], stock["available_to_regular"]) == (2, 18)


async def test_a_released_reservation_gives_the_blank_back_and_cannot_be_consumed(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000001")
    await inv.reserve("job_a")
    assert (await inv.reserve("job_b")).status_code == 409
    released = await inv.service.post("/v1/reservations/job_a/release", json={})
    assert released.status_code == 200
    assert released.json()["status"] == "released"
    assert (await inv.service.post("/v1/reservations/job_a/release", json={})).status_code == 200
    late = await inv.consume("job_a", "KTP00000001")
    assert late.status_code == 409
    assert late.json()["type"].endswith("/reservation-closed")
    assert (await inv.reserve("job_b")).status_code == 201


async def test_expired_reservations_are_released_by_the_sweeper(start_inventory: StartInventory) -> None:
    async with start_inventory(start_sweeper=True, sweep_interval_seconds=0.05) as inv:
        await inv.receive("TR-1", "KTP00000001", "KTP00000002")
        assert (await inv.reserve("job_short", ttl=0.1)).status_code == 201
        assert (await inv.reserve("job_long", ttl=600)).status_code == 201

        async def released() -> bool:
            return (await inv.stock())["reserved"] == 1

        await wait_for(released, timeout=5, what="the sweeper to release job_short")
        reservation = (await inv.service.get("/v1/reservations/job_short")).json()
        assert reservation["status"] == "expired"
        movements = (await inv.operator.get("/v1/movements", params={"job_id": "job_short"})).json()["items"]
        assert [m["kind"] for m in movements] == ["released", "reserved"]
        assert movements[0]["reason"] == "expired"


async def test_an_expired_reservation_is_released_when_the_next_job_reserves(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000001")
    await inv.reserve("job_short", ttl=0.05)

    async def next_job_granted() -> bool:
        return (await inv.reserve("job_next")).status_code in (200, 201)

    await wait_for(next_job_granted, timeout=5, what="job_short to expire")
    assert (await inv.service.get("/v1/reservations/job_short")).json()["status"] == "expired"


async def test_a_held_reservation_never_expires(start_inventory: StartInventory) -> None:
    async with start_inventory(start_sweeper=True, sweep_interval_seconds=0.05) as inv:
        await inv.receive("TR-1", "KTP00000001", "KTP00000002")
        await inv.reserve("job_unknown", ttl=1.0)
        await inv.reserve("job_probe", ttl=1.5)
        held = await inv.service.post("/v1/reservations/job_unknown/hold", json={"reason": "power lost mid-card"})
        assert held.status_code == 200
        assert (held.json()["status"], held.json()["expires_at"]) == ("held", None)

        async def probe_expired() -> bool:
            return (await inv.service.get("/v1/reservations/job_probe")).json()["status"] == "expired"

        await wait_for(probe_expired, timeout=5, what="the unheld reservation to expire")
        assert (await inv.service.get("/v1/reservations/job_unknown")).json()["status"] == "held"
        # The operator finds the card printed: the held reservation is consumed.
        assert (await inv.consume("job_unknown", "KTP00000002")).status_code == 200


async def test_a_reservation_for_an_unknown_job_is_404(inv: Inventory) -> None:
    response = await inv.consume("job_nobody", "KTP00000001")
    assert response.status_code == 404
    assert response.json()["type"].endswith("/reservation-unknown")


async def test_reservation_calls_need_the_service_role(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000002")
    for client in (inv.operator, inv.admin, inv.clerk):
        response = await client.post("/v1/reservations", json={"job_id": "job_x", "urgent": False, "ttl_seconds": 60})
        assert response.status_code == 403
    assert (await inv.stock())["reserved"] == 0


async def test_each_reservation_change_writes_an_audit_row(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000002")
    await inv.reserve("job_a")
    await inv.consume("job_a", "KTP00000001")
    audit = (await inv.admin.get("/v1/audit", params={"object_id": "job_a"})).json()
    assert [e["action"] for e in audit["items"]] == ["reservation.consumed", "reservation.reserved"]
    assert {e["actor"] for e in audit["items"]} == {"gateway-1"}
    blank = (await inv.admin.get("/v1/audit", params={"object_type": "blank", "object_id": "KTP00000001"})).json()
    assert blank["items"][0]["after"]["state"] == "consumed"


async def test_a_late_consume_after_expiry_is_still_recorded_while_a_blank_is_free(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000002")
    await inv.reserve("job_late", ttl=0.05)

    probes = itertools.count()

    async def expired() -> bool:
        probe = f"job_probe{next(probes)}"  # reserving expires overdue reservations
        if (await inv.reserve(probe)).status_code == 201:
            await inv.service.post(f"/v1/reservations/{probe}/release", json={})
        return (await inv.service.get("/v1/reservations/job_late")).json()["status"] == "expired"

    await wait_for(expired, timeout=5, what="job_late to expire")
    late = await inv.consume("job_late", "KTP00000001")
    assert late.status_code == 200, late.text
    assert late.json()["status"] == "consumed"
    stock = await inv.stock()
    assert (stock["consumed"], stock["reserved"], stock["available"]) == (1, 0, 1)


async def test_a_late_consume_after_expiry_is_refused_when_every_blank_is_reserved(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000001")
    await inv.reserve("job_late", ttl=0.05)

    async def taken() -> bool:
        return (await inv.reserve("job_next")).status_code in (200, 201)

    await wait_for(taken, timeout=5, what="job_next to take the expired blank")
    late = await inv.consume("job_late", "KTP00000001")
    assert late.status_code == 409
    assert late.json()["type"].endswith("/reservation-closed")


async def test_the_same_job_reserving_many_times_at_once_gets_one_reservation(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000005")

    answers = await asyncio.gather(*(inv.reserve("job_same") for _ in range(20)))

    assert sorted(a.status_code for a in answers) == [200] * 19 + [201]
    assert len({a.text for a in answers}) == 1
    stock = await inv.stock()
    assert (stock["reserved"], stock["available"]) == (1, 4)
    movements = (await inv.operator.get("/v1/movements", params={"job_id": "job_same"})).json()
    assert movements["total"] == 1
