"""The queue the printer gateway drains, through HTTP: order, claims and leases, reports, expiry, capacity."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx

from tests.factories import batch_row, request_body
from tests.request.conftest import OFFICE_TODAY, InProcessRequestService, expected_print_date
from tests.support import wait_for


async def submit(client: httpx.AsyncClient, serial: int, **kw: Any) -> str:
    response = await client.post("/v1/requests", json=request_body(serial, **kw))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def claim(gateway: httpx.AsyncClient, job: str, *, lease: float | None = None) -> httpx.Response:
    body: dict[str, Any] = {"job_id": job, "printer_id": "printer-1"}
    if lease is not None:
        body["lease_seconds"] = lease
    return await gateway.post("/v1/queue/claims", json=body)


async def drain(gateway: httpx.AsyncClient, prefix: str = "job") -> list[dict[str, Any]]:
    """Claim until 204 and report each printed; the claims in order."""
    claims: list[dict[str, Any]] = []
    while True:
        response = await claim(gateway, f"{prefix}_{len(claims)}")
        if response.status_code == 204:
            return claims
        assert response.status_code == 201, response.text
        claims.append(response.json())


async def test_urgent_requests_are_printed_before_regular_ones_queued_earlier(office: InProcessRequestService) -> None:
    operator, gateway = office.as_("operator"), office.as_("service")
    regular = [await submit(operator, n) for n in range(1, 4)]
    urgent = [await submit(operator, 10, reason="health"), await submit(operator, 11, reason="other")]
    order = [c["request_id"] for c in await drain(gateway)]
    assert order == urgent + regular
    first = (await operator.get(f"/v1/requests/{urgent[0]}")).json()
    assert first["priority"] == "urgent"
    assert first["status"] == "printing"


async def test_a_big_kecamatan_batch_does_not_starve_another_kecamatan(office: InProcessRequestService) -> None:
    operator, gateway = office.as_("operator"), office.as_("service")
    rows = [batch_row(n, kecamatan="18.09.05") for n in range(1, 41)]
    uploaded = await operator.post("/v1/batches", json={"rows": rows})
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["accepted_rows"] == 40
    late = await submit(operator, 500, kecamatan="18.09.02")  # queued after the whole batch

    position = (await operator.get(f"/v1/requests/{late}")).json()["queue"]["position"]
    assert position <= 2, position
    order = [c["request_id"] for c in await drain(gateway)]
    assert order.index(late) <= 1


async def test_a_walk_in_is_not_kept_waiting_behind_its_own_kecamatans_batch(office: InProcessRequestService) -> None:
    operator, gateway = office.as_("operator"), office.as_("service")
    rows = [batch_row(n, kecamatan="18.09.03") for n in range(1, 5001)]
    uploaded = await operator.post("/v1/batches", json={"rows": rows})
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["accepted_rows"] == 5000
    walk_in = await submit(operator, 9000, kecamatan="18.09.03")  # the same kecamatan, at the desk, afterwards

    lanes = 2  # the kecamatan's batch lane and its desk lane
    position = (await operator.get(f"/v1/requests/{walk_in}")).json()["queue"]["position"]
    assert position <= lanes, position
    claimed = []
    for n in range(lanes):
        response = await claim(gateway, f"job_{n}")
        assert response.status_code == 201, response.text
        claimed.append(response.json()["request_id"])
    assert walk_in in claimed
    stats = (await operator.get("/v1/queue/stats")).json()
    assert (stats["queued"], stats["printing"]) == (5001 - lanes, lanes)


async def test_an_urgent_request_past_its_reasons_target_is_flagged_overdue_until_printed(
    office: InProcessRequestService,
) -> None:
    operator, gateway = office.as_("operator"), office.as_("service")
    context = office.app.state.context
    start = dt.datetime.now(dt.UTC)
    context.clock = lambda: start
    late = await submit(operator, 1, reason="health")  # target 24 h
    context.clock = lambda: start + dt.timedelta(minutes=1)
    within = await submit(operator, 2, reason="education", kecamatan="18.09.04")  # target 72 h
    regular = await submit(operator, 3)  # no target
    context.clock = lambda: start + dt.timedelta(hours=25)
    fresh = await submit(operator, 4, reason="health")

    read = (await operator.get(f"/v1/requests/{late}")).json()
    assert read["overdue"] is True
    assert dt.datetime.fromisoformat(read["due_at"]) == start + dt.timedelta(hours=24)
    listed = {r["id"]: r for r in (await operator.get("/v1/requests")).json()["items"]}
    assert {rid for rid, r in listed.items() if r["overdue"]} == {late}
    assert listed[within]["due_at"] is not None
    assert listed[regular]["due_at"] is None
    assert listed[fresh]["overdue"] is False
    assert (await operator.get("/v1/queue/stats")).json()["overdue"] == 1
    coverage = {r["code"]: r for r in (await operator.get("/v1/coverage")).json()["kecamatan"]}
    assert (coverage["18.09.01"]["overdue"], coverage["18.09.04"]["overdue"]) == (1, 0)

    claimed = (await claim(gateway, "job_late")).json()
    assert claimed["request_id"] == late  # printing, still overdue until the card is out
    assert (await operator.get("/v1/queue/stats")).json()["overdue"] == 1
    printed = await gateway.post("/v1/queue/claims/job_late/printed", json={"card_serial": "KTP00000001"})
    assert printed.status_code == 200, printed.text
    assert (await operator.get(f"/v1/requests/{late}")).json()["overdue"] is False
    assert (await operator.get("/v1/queue/stats")).json()["overdue"] == 0

    context.clock = lambda: start + dt.timedelta(hours=73)  # now the education request has missed its target
    assert (await operator.get(f"/v1/requests/{within}")).json()["overdue"] is True
    assert (await operator.get("/v1/coverage")).json()["regency"]["overdue"] == 2  # with the fresh health one


async def test_a_regular_request_that_waited_past_the_urgent_head_start_is_not_passed(open_office: Any) -> None:
    async with open_office(urgent_head_start_hours=24, fair_spacing_seconds=0) as office:
        operator, gateway = office.as_("operator"), office.as_("service")
        context = office.app.state.context
        start = dt.datetime.now(dt.UTC)
        context.clock = lambda: start
        old = await submit(operator, 1)
        context.clock = lambda: start + dt.timedelta(hours=25)  # it has waited longer than the head start
        urgent = await submit(operator, 2, reason="disaster")
        newer = await submit(operator, 3)
        order = [c["request_id"] for c in await drain(gateway)]
        assert order == [old, urgent, newer]


async def test_a_claim_carries_the_card_and_the_same_job_id_gets_the_same_claim(
    office: InProcessRequestService,
) -> None:
    operator, gateway = office.as_("operator"), office.as_("service")
    assert (await claim(gateway, "job_empty")).status_code == 204
    request_id = await submit(operator, 1)

    first = await claim(gateway, "job_a")
    assert first.status_code == 201
    body = first.json()
    assert body["request_id"] == request_id
    assert body["card"]["photo"]
    assert body["card"]["signature"]
    assert body["card"]["village"] == "Padang Ratu"
    assert body["card"]["regency"] == "Kabupaten Pesawaran"
    assert body["priority"] == "regular"
    assert body["attempts"] == 0

    again = await claim(gateway, "job_a")
    assert again.status_code == 200
    assert again.json()["request_id"] == request_id
    assert (await claim(gateway, "job_b")).status_code == 204


async def test_printed_reports_are_idempotent_and_the_card_is_activated_and_handed_over(
    office: InProcessRequestService,
) -> None:
    operator, gateway = office.as_("operator"), office.as_("service")
    request_id = await submit(operator, 1)
    await claim(gateway, "job_1")
    assert (await gateway.post("/v1/queue/claims/job_1/sent", json={"printer_id": "printer-1"})).status_code == 200
    report = {"card_serial": "KTP00000001", "printer_id": "printer-1"}
    first = await gateway.post("/v1/queue/claims/job_1/printed", json=report)
    again = await gateway.post("/v1/queue/claims/job_1/printed", json=report)
    assert first.status_code == again.status_code == 200
    assert again.json()["status"] == "printed"
    assert again.json()["card_serial"] == "KTP00000001"

    wrong = await operator.post(f"/v1/requests/{request_id}/activate", json={"card_serial": "KTP00000002"})
    assert wrong.status_code == 409
    assert wrong.json()["errors"][0]["field"] == "card_serial"
    activated = await operator.post(f"/v1/requests/{request_id}/activate", json={"card_serial": "KTP00000001"})
    assert activated.json()["status"] == "activated"
    handed = await operator.post(f"/v1/requests/{request_id}/handover", json={"received_by": "BUDI SANTOSO"})
    assert handed.json()["status"] == "collected"
    assert handed.json()["received_by"] == "BUDI SANTOSO"
    # the NIK may ask again after collecting its card (e.g. lost later)
    assert (await operator.post("/v1/requests", json=request_body(1, reason="lost_card"))).status_code == 201


async def test_a_sent_report_made_twice_gets_the_same_answer_and_changes_nothing(
    office: InProcessRequestService,
) -> None:
    operator, gateway, admin = office.as_("operator"), office.as_("service"), office.as_("admin")
    request_id = await submit(operator, 1)
    await claim(gateway, "job_1")
    first = await gateway.post("/v1/queue/claims/job_1/sent", json={"printer_id": "printer-1"})
    seen = (await operator.get(f"/v1/requests/{request_id}")).json()
    again = await gateway.post("/v1/queue/claims/job_1/sent", json={"printer_id": "printer-1"})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert (again.json()["status"], again.json()["job_id"]) == ("printing", "job_1")
    assert (await operator.get(f"/v1/requests/{request_id}")).json() == seen
    sent_rows = (await admin.get("/v1/audit", params={"object_id": "job_1", "action": "queue.sent"})).json()
    assert sent_rows["total"] == 1
    # the job still counts as sent: giving the request back is refused
    released = await gateway.post("/v1/queue/claims/job_1/release", json={})
    assert released.status_code == 409
    assert released.json()["type"].endswith("job-sent")


async def test_a_needs_review_report_made_twice_gets_the_same_answer_and_changes_nothing(
    office: InProcessRequestService,
) -> None:
    operator, gateway, admin = office.as_("operator"), office.as_("service"), office.as_("admin")
    request_id = await submit(operator, 1)
    await claim(gateway, "job_1")
    await gateway.post("/v1/queue/claims/job_1/sent", json={"printer_id": "printer-1"})
    report = {"reason": "power lost mid-card"}
    first = await gateway.post("/v1/queue/claims/job_1/needs-review", json=report)
    seen = (await operator.get(f"/v1/requests/{request_id}")).json()
    again = await gateway.post("/v1/queue/claims/job_1/needs-review", json=report)
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert (again.json()["status"], again.json()["status_note"]) == ("needs_review", "power lost mid-card")
    assert (await operator.get(f"/v1/requests/{request_id}")).json() == seen
    rows = (await admin.get("/v1/audit", params={"object_id": request_id, "action": "queue.needs_review"})).json()
    assert rows["total"] == 1
    assert (await claim(gateway, "job_2")).status_code == 204  # not back in the queue
    stats = (await operator.get("/v1/queue/stats")).json()
    assert (stats["needs_review"], stats["printing"], stats["queued"]) == (1, 0, 0)


async def test_failed_prints_go_back_to_the_queue_until_max_attempts_then_need_review(open_office: Any) -> None:
    async with open_office(max_attempts=2) as office:
        operator, gateway = office.as_("operator"), office.as_("service")
        request_id = await submit(operator, 1)
        await claim(gateway, "job_1")
        failed = await gateway.post("/v1/queue/claims/job_1/failed", json={"reason": "ribbon out", "card_used": True})
        assert failed.json()["status"] == "queued"
        assert failed.json()["attempts"] == 1
        again = await gateway.post("/v1/queue/claims/job_1/failed", json={"reason": "ribbon out", "card_used": True})
        assert again.json()["attempts"] == 1  # the same report twice counts once

        await claim(gateway, "job_2")
        second = await gateway.post("/v1/queue/claims/job_2/failed", json={"reason": "jam", "card_used": False})
        assert second.json()["status"] == "needs_review"
        assert second.json()["attempts"] == 2
        assert (await claim(gateway, "job_3")).status_code == 204

        stale = await gateway.post("/v1/queue/claims/job_1/printed", json={"card_serial": "KTP00000009"})
        assert stale.status_code == 409
        assert stale.json()["type"].endswith("stale-job")

        resolved = await operator.post(f"/v1/requests/{request_id}/resolve", json={"outcome": "not_printed"})
        assert resolved.json()["status"] == "queued"
        assert (await claim(gateway, "job_4")).json()["request_id"] == request_id


async def test_the_gateways_crash_recovery_resolves_a_request_in_review_by_its_last_job(
    office: InProcessRequestService,
) -> None:
    operator, gateway = office.as_("operator"), office.as_("service")
    request_id = await submit(operator, 1)
    await claim(gateway, "job_1")
    await gateway.post("/v1/queue/claims/job_1/sent", json={})
    review = await gateway.post("/v1/queue/claims/job_1/needs-review", json={"reason": "power lost mid-card"})
    assert review.json()["status"] == "needs_review"
    printed = await gateway.post("/v1/queue/claims/job_1/printed", json={"card_serial": "KTP00000007"})
    assert printed.status_code == 200
    assert printed.json()["status"] == "printed"

    other = await submit(operator, 2)
    await claim(gateway, "job_2")
    await gateway.post("/v1/queue/claims/job_2/needs-review", json={"reason": "unknown"})
    by_operator = await operator.post(
        f"/v1/requests/{other}/resolve", json={"outcome": "printed", "card_serial": "KTP00000008"}
    )
    assert by_operator.json()["status"] == "printed"
    assert by_operator.json()["card_serial"] == "KTP00000008"
    assert request_id != other


async def test_release_puts_the_request_back_in_its_place_without_counting_an_attempt(
    office: InProcessRequestService,
) -> None:
    operator, gateway = office.as_("operator"), office.as_("service")
    first = await submit(operator, 1)
    await submit(operator, 2)
    await claim(gateway, "job_1")
    released = await gateway.post("/v1/queue/claims/job_1/release", json={})
    assert released.json()["status"] == "queued"
    assert released.json()["attempts"] == 0
    assert (await gateway.post("/v1/queue/claims/job_1/release", json={})).status_code == 200
    assert (await claim(gateway, "job_2")).json()["request_id"] == first
    renew = await gateway.post("/v1/queue/claims/job_1/renew", json={"lease_seconds": 60})
    assert renew.status_code == 409
    assert renew.json()["type"].endswith("lease-lost")


async def test_an_expired_lease_goes_back_to_the_queue_and_renewal_reports_lease_lost(
    office: InProcessRequestService,
) -> None:
    operator, gateway = office.as_("operator"), office.as_("service")
    request_id = await submit(operator, 1)
    assert (await claim(gateway, "job_1", lease=30)).status_code == 201
    renewed = await gateway.post("/v1/queue/claims/job_1/renew", json={"lease_seconds": 0.3})  # then it stops
    assert renewed.status_code == 200

    async def back_in_queue() -> bool:
        return (await operator.get(f"/v1/requests/{request_id}")).json()["status"] == "queued"

    await wait_for(back_in_queue, timeout=10, what="the expired lease to go back to the queue")
    lost = await gateway.post("/v1/queue/claims/job_1/renew", json={})
    assert lost.status_code == 409
    assert lost.json()["type"].endswith("lease-lost")
    assert (await claim(gateway, "job_2")).json()["request_id"] == request_id
    late = await gateway.post("/v1/queue/claims/job_1/printed", json={"card_serial": "KTP00000001"})
    assert late.status_code == 409


async def test_an_expired_lease_after_the_card_was_sent_needs_review_not_a_reprint(
    office: InProcessRequestService,
) -> None:
    operator, gateway = office.as_("operator"), office.as_("service")
    request_id = await submit(operator, 1)
    await claim(gateway, "job_1", lease=30)
    sent = await gateway.post("/v1/queue/claims/job_1/sent", json={"printer_id": "printer-1"})
    assert sent.status_code == 200
    assert (await gateway.post("/v1/queue/claims/job_1/renew", json={"lease_seconds": 0.3})).status_code == 200

    async def in_review() -> bool:
        return (await operator.get(f"/v1/requests/{request_id}")).json()["status"] == "needs_review"

    await wait_for(in_review, timeout=10, what="the sent job's expired lease to need review")
    assert (await claim(gateway, "job_2")).status_code == 204


async def queue_views(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    """The queue view of every queued request, head first, each checked equal to the one its request carries."""
    queued = (await client.get("/v1/requests", params={"status": "queued", "limit": 500})).json()["items"]
    views = []
    for request in queued:
        view = (await client.get(f"/v1/requests/{request['id']}/queue")).json()
        assert (await client.get(f"/v1/requests/{request['id']}")).json()["queue"] == view
        views.append(view)
    return sorted(views, key=lambda v: int(v["position"]))


async def test_stats_count_the_backlog_by_class_and_status(office: InProcessRequestService) -> None:
    operator, gateway = office.as_("operator"), office.as_("service")
    # Tuesday 4 August 2026, 08:00 WIB: the office opens, no holiday in the days that follow.
    office.app.state.context.clock = lambda: dt.datetime(2026, 8, 4, 1, 0, tzinfo=dt.UTC)
    for n in range(1, 6):
        await submit(operator, n)
    urgent = await submit(operator, 6, reason="travel")
    assert (await claim(gateway, "job_1")).json()["request_id"] == urgent
    stats = (await gateway.get("/v1/queue/stats")).json()
    assert stats == {
        "queued": 5,
        "urgent_queued": 0,
        "regular_queued": 5,
        "printing": 1,
        "needs_review": 0,
        "overdue": 0,
        "printed_today": 0,
        "daily_capacity": 400,
        "waiting_claims": 0,
        "with_suket": 0,
    }


async def test_each_queued_request_is_promised_the_day_its_place_and_the_capacity_give(
    office: InProcessRequestService,
) -> None:
    office.pin_clock()
    operator, gateway = office.as_("operator"), office.as_("service")
    for n in range(1, 8):
        await submit(operator, n)
    set_capacity = await gateway.put("/v1/queue/capacity", json={"cards_per_hour": 0.25, "printers": 1})
    assert set_capacity.json()["daily_capacity"] == 2  # 0.25 cards an hour (the fleet's total) × 8 office hours

    views = await queue_views(operator)
    assert [(v["position"], v["ahead"], v["daily_capacity"]) for v in views] == [(n + 1, n, 2) for n in range(7)]
    promised = [dt.date.fromisoformat(v["estimated_print_date"]) for v in views]
    assert promised == [expected_print_date(OFFICE_TODAY, ahead, 2) for ahead in range(7)]
    assert promised[0] == OFFICE_TODAY  # the head of the queue is printed today, not tomorrow

    # the head is claimed: everyone behind it moves up a place, and its promise with it
    await claim(gateway, "job_1")
    moved = [dt.date.fromisoformat(v["estimated_print_date"]) for v in await queue_views(operator)]
    assert moved == [expected_print_date(OFFICE_TODAY, ahead, 2) for ahead in range(6)]


async def test_more_capacity_brings_the_estimated_date_earlier_by_the_days_it_saves(
    office: InProcessRequestService,
) -> None:
    office.pin_clock()
    operator, gateway = office.as_("operator"), office.as_("service")
    tail = [await submit(operator, n) for n in range(1, 6)][-1]  # four requests ahead of it

    async def promise_for_tail() -> tuple[int, dt.date]:
        view = (await operator.get(f"/v1/requests/{tail}/queue")).json()
        assert view["ahead"] == 4, view
        return int(view["daily_capacity"]), dt.date.fromisoformat(view["estimated_print_date"])

    one_a_day = await gateway.put("/v1/queue/capacity", json={"cards_per_hour": 0.125, "printers": 1})
    assert one_a_day.json()["daily_capacity"] == 1
    capacity, before = await promise_for_tail()
    assert (capacity, before) == (1, expected_print_date(OFFICE_TODAY, 4, 1))

    # a second printer: the fleet's total doubles (the gateway publishes the total; ``printers`` is only shown)
    second_printer = await gateway.put("/v1/queue/capacity", json={"cards_per_hour": 0.25, "printers": 2})
    assert second_printer.json()["daily_capacity"] == 2
    capacity, after = await promise_for_tail()
    assert (capacity, after) == (2, expected_print_date(OFFICE_TODAY, 4, 2))
    assert after < before
    assert before - after == expected_print_date(OFFICE_TODAY, 4, 1) - expected_print_date(OFFICE_TODAY, 4, 2)

    # and less capacity puts it back where it was
    assert (await gateway.put("/v1/queue/capacity", json={"cards_per_hour": 0.125, "printers": 1})).is_success
    assert await promise_for_tail() == (1, before)
