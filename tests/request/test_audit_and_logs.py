"""State changes leave audit rows; logs never carry a whole NIK."""

from __future__ import annotations

import logging

import pytest

from tests.request.conftest import Office
from tests.request.factories import batch_row, make_nik, request_body


async def test_every_state_change_of_a_request_writes_an_audit_row(office: Office) -> None:
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


async def test_no_whole_nik_reaches_the_logs(office: Office, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    operator, gateway = office.as_("operator"), office.as_("service")
    nik = make_nik(serial=1)
    await operator.post("/v1/requests", json=request_body(1))
    await operator.post("/v1/requests", json=request_body(1))  # duplicate: 409
    await operator.post("/v1/requests", json=request_body(2, birth_date="1991-01-01"))  # 422
    await operator.get("/v1/requests", params={"nik": nik})
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
