"""A request's page shows what happened to it: ``GET /v1/requests/{id}/history``, for whoever may read the
request (the desk, the clerk of its kecamatan), not only the admin who reads the whole audit trail."""

from __future__ import annotations

from tests.factories import make_nik, request_body
from tests.request.conftest import InProcessRequestService


async def test_the_desk_reads_a_requests_history_oldest_first(office: InProcessRequestService) -> None:
    operator, gateway = office.as_("operator", subject="desk-1"), office.as_("service")
    request_id = (await operator.post("/v1/requests", json=request_body(1))).json()["id"]
    await gateway.post("/v1/queue/claims", json={"job_id": "job_1", "printer_id": "p1"})
    await gateway.post("/v1/queue/claims/job_1/sent", json={})
    await gateway.post("/v1/queue/claims/job_1/printed", json={"card_serial": "KTP00000001"})
    await operator.post(f"/v1/requests/{request_id}/activate", json={"card_serial": "KTP00000001"})
    other = (await operator.post("/v1/requests", json=request_body(2))).json()["id"]
    await operator.post(f"/v1/requests/{other}/cancel")

    history = await operator.get(f"/v1/requests/{request_id}/history")

    assert history.status_code == 200, history.text
    events = history.json()
    assert [e["action"] for e in events] == ["request.created", "queue.claimed", "queue.printed", "request.activated"]
    assert [e["after"]["status"] for e in events] == ["queued", "printing", "printed", "activated"]
    assert events[0]["actor"] == "desk-1"
    assert events[2]["after"]["card_serial"] == "KTP00000001"
    assert events == sorted(events, key=lambda e: e["at"])
    assert make_nik(serial=1) not in history.text


async def test_a_clerk_reads_the_history_of_its_kecamatan_only(office: InProcessRequestService) -> None:
    operator = office.as_("operator")
    ours = (await operator.post("/v1/requests", json=request_body(1, kecamatan="18.09.01"))).json()["id"]
    theirs = (await operator.post("/v1/requests", json=request_body(2, kecamatan="18.09.02"))).json()["id"]
    clerk = office.as_("clerk", scope=["18.09.01"])

    assert (await clerk.get(f"/v1/requests/{ours}/history")).status_code == 200
    refused = await clerk.get(f"/v1/requests/{theirs}/history")
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert (await operator.get("/v1/requests/no-such-request/history")).status_code == 404
