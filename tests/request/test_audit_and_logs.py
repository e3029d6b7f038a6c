"""State changes leave audit rows (who, what, which object, from → to); logs never carry a whole NIK."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import httpx
import pytest

from tests.factories import batch_row, make_nik, request_body
from tests.request.conftest import InProcessRequestService
from tests.support import wait_for


async def test_every_state_change_of_a_request_writes_an_audit_row(office: InProcessRequestService) -> None:
    operator, gateway, admin = office.as_("operator", subject="desk-1"), office.as_("service"), office.as_("admin")
    request_id = (await operator.post("/v1/requests", json=request_body(1))).json()["id"]
    await gateway.post("/v1/queue/claims", json={"job_id": "job_1", "printer_id": "p1"})
    await gateway.post("/v1/queue/claims/job_1/sent", json={})
    await gateway.post("/v1/queue/claims/job_1/printed", json={"card_serial": "KTP00000001"})
    await operator.post(f"/v1/requests/{request_id}/activate", json={"card_serial": "KTP00000001"})
    await operator.post(f"/v1/requests/{request_id}/handover", json={"received_by": "BUDI SANTOSO"})

    trail = (await admin.get("/v1/audit", params={"object_id": request_id})).json()["items"]
    actions = [e["action"] for e in reversed(trail)]
    assert actions == [
        "request.created",
        "queue.claimed",
        "queue.printed",
        "request.activated",
        "request.collected",
    ]
    created = trail[-1]
    assert created["actor"] == "desk-1"
    assert created["actor_role"] == "operator"
    assert created["before"] == {"status": "received"}
    assert created["after"]["status"] == "queued"
    assert [(e["before"]["status"], e["after"]["status"]) for e in reversed(trail)][1:] == [
        ("queued", "printing"),
        ("printing", "printed"),
        ("printed", "activated"),
        ("activated", "collected"),
    ]
    assert all(make_nik(serial=1) not in str(e) for e in trail)


async def test_no_whole_nik_reaches_the_logs(office: InProcessRequestService, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    operator, gateway = office.as_("operator"), office.as_("service")
    nik = make_nik(serial=1)
    await operator.post("/v1/requests", json=request_body(1))
    await operator.post("/v1/requests", json=request_body(1))  # duplicate: 409
    await operator.post("/v1/requests", json=request_body(2, birth_date="1991-01-01"))  # 422
    await operator.get("/v1/requests", params={"nik": nik, "purpose": "pelayanan"})
    await operator.post("/v1/batches", json={"rows": [batch_row(3), batch_row(1)]})
    await gateway.post("/v1/queue/claims", json={"job_id": "job_1", "printer_id": "p1"})
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_ektp", False))
    # The test's own httpx client logs the URL it called (with ?nik=): through the service's handler it is masked.
    lines = [handler.format(r) for r in caplog.records]
    assert any("nik=1809**********01" in line for line in lines)
    service_lines = [r.getMessage() for r in caplog.records if not r.name.startswith("httpx")]
    for serial in (1, 2, 3):
        assert not any(make_nik(serial=serial) in line for line in lines + service_lines)

    # and a NIK that slips into a message anyway is masked by the service's log handler
    record = logging.makeLogRecord({"msg": "resident %s complained", "args": (nik,), "levelname": "ERROR"})
    line = handler.format(record)
    assert nik not in line
    assert "1809**********01" in line


# --- state changes beyond the happy path: one row each, saying who did what to which object, from → to ---------


async def only_row(office: InProcessRequestService, object_id: str, action: str) -> dict[str, Any]:
    """The one audit row of ``action`` on ``object_id`` (fails if there are none or several)."""
    found = await office.as_("admin").get("/v1/audit", params={"object_id": object_id, "action": action})
    rows = found.json()["items"]
    assert len(rows) == 1, (action, rows)
    return dict(rows[0])


async def submit(office: InProcessRequestService, serial: int, *, as_: str = "desk-1") -> str:
    response = await office.as_("operator", subject=as_).post("/v1/requests", json=request_body(serial))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def claimed(office: InProcessRequestService, job: str, request_id: str) -> httpx.AsyncClient:
    gateway = office.as_("service", subject="gateway-1")
    claim = await gateway.post("/v1/queue/claims", json={"job_id": job, "printer_id": "printer-1"})
    assert claim.json()["request_id"] == request_id, claim.text
    return gateway


def state(status: str, attempts: int = 0, job_id: str | None = None, card_serial: str | None = None) -> dict[str, Any]:
    return {"status": status, "attempts": attempts, "job_id": job_id, "card_serial": card_serial}


async def test_a_cancellation_is_audited_with_the_clerk_who_cancelled(office: InProcessRequestService) -> None:
    clerk = office.as_("clerk", scope=["18.09.01"], subject="clerk-gedong-tataan")
    request_id = (await clerk.post("/v1/requests", json=request_body(1))).json()["id"]
    cancelled = await clerk.post(f"/v1/requests/{request_id}/cancel", json={"note": "resident moved away"})
    assert cancelled.json()["status"] == "cancelled"

    row = await only_row(office, request_id, "request.cancelled")
    assert (row["actor"], row["actor_role"]) == ("clerk-gedong-tataan", "clerk")
    assert (row["object_type"], row["object_id"]) == ("print_request", request_id)
    assert (row["before"], row["after"]) == (state("queued"), state("cancelled"))


async def test_a_failed_attempt_is_audited_once_even_when_reported_twice(office: InProcessRequestService) -> None:
    request_id = await submit(office, 1)
    gateway = await claimed(office, "job_1", request_id)
    report = {"reason": "ribbon out", "card_used": True}
    for _ in range(2):
        assert (await gateway.post("/v1/queue/claims/job_1/failed", json=report)).json()["attempts"] == 1

    row = await only_row(office, request_id, "queue.failed")
    assert (row["actor"], row["actor_role"], row["object_type"]) == ("gateway-1", "service", "print_request")
    assert row["before"] == state("printing", 0, "job_1")
    assert row["after"] == state("queued", 1, "job_1")


async def test_a_release_is_audited_once_and_counts_no_attempt(office: InProcessRequestService) -> None:
    request_id = await submit(office, 1)
    gateway = await claimed(office, "job_1", request_id)
    for _ in range(2):
        assert (await gateway.post("/v1/queue/claims/job_1/release", json={})).json()["status"] == "queued"

    row = await only_row(office, request_id, "queue.released")
    assert (row["actor"], row["actor_role"], row["object_type"]) == ("gateway-1", "service", "print_request")
    assert row["before"] == state("printing", 0, "job_1")
    assert row["after"] == state("queued", 0, "job_1")


async def test_expired_leases_are_audited_as_the_sweepers_work(office: InProcessRequestService) -> None:
    back_to_queue, sent_to_printer = await submit(office, 1), await submit(office, 2)
    await claimed(office, "job_1", back_to_queue)
    gateway = await claimed(office, "job_2", sent_to_printer)
    assert (await gateway.post("/v1/queue/claims/job_2/sent", json={"printer_id": "printer-1"})).status_code == 200

    context = office.app.state.context
    context.clock = lambda: dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)  # both leases are long over
    operator = office.as_("operator")

    async def both_collected() -> bool:
        statuses = [
            (await operator.get(f"/v1/requests/{r}")).json()["status"] for r in (back_to_queue, sent_to_printer)
        ]
        return statuses == ["queued", "needs_review"]

    await wait_for(both_collected, what="the sweeper to collect both expired leases")

    requeued = await only_row(office, back_to_queue, "queue.lease_expired")
    assert (requeued["actor"], requeued["actor_role"]) == ("lease-sweeper", "service")
    assert (requeued["before"], requeued["after"]) == (state("printing", 0, "job_1"), state("queued", 0, "job_1"))
    review = await only_row(office, sent_to_printer, "queue.lease_expired_needs_review")
    assert (review["actor"], review["actor_role"]) == ("lease-sweeper", "service")
    assert (review["before"], review["after"]) == (state("printing", 0, "job_2"), state("needs_review", 0, "job_2"))


async def test_both_outcomes_of_resolving_a_review_are_audited_with_the_operator(
    office: InProcessRequestService,
) -> None:
    came_out, did_not = await submit(office, 1), await submit(office, 2)
    for job, request_id in (("job_1", came_out), ("job_2", did_not)):
        gateway = await claimed(office, job, request_id)
        await gateway.post(f"/v1/queue/claims/{job}/needs-review", json={"reason": "power lost mid-card"})
    desk = office.as_("operator", subject="desk-2")
    printed = {"outcome": "printed", "card_serial": "KTP00000005", "note": "card found in the tray"}
    assert (await desk.post(f"/v1/requests/{came_out}/resolve", json=printed)).json()["status"] == "printed"
    not_printed = {"outcome": "not_printed"}
    assert (await desk.post(f"/v1/requests/{did_not}/resolve", json=not_printed)).json()["status"] == "queued"

    row = await only_row(office, came_out, "request.resolved_printed")
    assert (row["actor"], row["actor_role"], row["object_type"]) == ("desk-2", "operator", "print_request")
    assert row["before"] == state("needs_review", 0, "job_1")
    assert row["after"] == state("printed", 0, "job_1", "KTP00000005")
    row = await only_row(office, did_not, "request.resolved_not_printed")
    assert (row["actor"], row["actor_role"], row["object_type"]) == ("desk-2", "operator", "print_request")
    assert (row["before"], row["after"]) == (state("needs_review", 0, "job_2"), state("queued", 0, "job_2"))


async def test_setting_the_queues_capacity_is_audited_with_the_old_and_new_figures(
    office: InProcessRequestService,
) -> None:
    desk = office.as_("operator", subject="desk-1")
    assert (await desk.put("/v1/queue/capacity", json={"cards_per_hour": 25, "printers": 2})).status_code == 200
    first = await only_row(office, "1", "queue.capacity_set")
    assert (first["actor"], first["actor_role"], first["object_type"]) == ("desk-1", "operator", "queue_capacity")
    assert (first["before"], first["after"]) == (None, {"cards_per_hour": 25, "printers": 2})

    admin = office.as_("admin", subject="kepala-dinas")
    assert (await admin.put("/v1/queue/capacity", json={"cards_per_hour": 30, "printers": 1})).status_code == 200
    trail = (await admin.get("/v1/audit", params={"action": "queue.capacity_set"})).json()["items"]
    assert len(trail) == 2
    assert (trail[0]["actor"], trail[0]["actor_role"]) == ("kepala-dinas", "admin")
    assert (trail[0]["before"], trail[0]["after"]) == (
        {"cards_per_hour": 25, "printers": 2},
        {"cards_per_hour": 30, "printers": 1},
    )


async def test_setting_a_kecamatans_coverage_figures_is_audited_with_the_old_and_new_figures(
    office: InProcessRequestService,
) -> None:
    desk = office.as_("operator", subject="desk-1")
    first = await desk.put("/v1/coverage/18.09.01", json={"obliged": 1200, "recorded": 1100})
    assert first.status_code == 200
    row = await only_row(office, "18.09.01", "coverage.set")
    assert (row["actor"], row["actor_role"], row["object_type"]) == ("desk-1", "operator", "kecamatan")
    first_figures = {"obliged": 1200, "recorded": 1100, "collected_before": 0}
    assert (row["before"], row["after"]) == (None, first_figures)

    await desk.put("/v1/coverage/18.09.01", json={"obliged": 1250, "recorded": 1180, "collected_before": 1000})
    trail = (await office.as_("admin").get("/v1/audit", params={"object_id": "18.09.01"})).json()["items"]
    assert [(e["action"], e["before"], e["after"]) for e in trail] == [
        ("coverage.set", first_figures, {"obliged": 1250, "recorded": 1180, "collected_before": 1000}),
        ("coverage.set", None, first_figures),
    ]
    other = (await office.as_("admin").get("/v1/audit", params={"object_id": "18.09.02"})).json()
    assert other["total"] == 0
