"""Every role is denied what it may not do (and nothing is changed when it is)."""

from __future__ import annotations

from typing import Any

from tests.request.conftest import Office
from tests.request.factories import make_nik, request_body


async def test_each_role_is_denied_what_it_may_not_do(office: Office) -> None:
    operator = office.as_("operator")
    created = await operator.post("/v1/requests", json=request_body(1, kecamatan="18.09.02"))
    other = created.json()["id"]
    partner_a = office.as_("partner", subject="rs-abdul-moeloek")
    own = await partner_a.post("/v1/requests", json=request_body(2, reason="health", channel="partner"))
    assert own.status_code == 201, own.text

    clerk = office.as_("clerk", scope=["18.09.01"])
    partner_b = office.as_("partner", subject="univ-lampung")
    gateway = office.as_("service")
    anonymous = office.anonymous()

    denied: list[tuple[str, Any, str, str, dict[str, Any]]] = [
        ("no token", anonymous, "GET", "/v1/requests", {}),
        (
            "clerk submits outside its kecamatan",
            clerk,
            "POST",
            "/v1/requests",
            {"json": request_body(3, kecamatan="18.09.02")},
        ),
        ("clerk reads outside its kecamatan", clerk, "GET", f"/v1/requests/{other}", {}),
        ("clerk lists outside its kecamatan", clerk, "GET", "/v1/requests", {"params": {"kecamatan": "18.09.02"}}),
        ("clerk searches by NIK", clerk, "GET", "/v1/requests", {"params": {"nik": make_nik(serial=1)}}),
        ("clerk cancels outside its kecamatan", clerk, "POST", f"/v1/requests/{other}/cancel", {}),
        (
            "clerk claims from the queue",
            clerk,
            "POST",
            "/v1/queue/claims",
            {"json": {"job_id": "j", "printer_id": "p"}},
        ),
        ("clerk sets coverage", clerk, "PUT", "/v1/coverage/18.09.01", {"json": {"obliged": 1, "recorded": 1}}),
        ("clerk activates", clerk, "POST", f"/v1/requests/{other}/activate", {"json": {"card_serial": "KTP00000001"}}),
        (
            "partner submits a regular request",
            partner_b,
            "POST",
            "/v1/requests",
            {"json": request_body(4, channel="partner")},
        ),
        ("partner submits as walk-in", partner_b, "POST", "/v1/requests", {"json": request_body(5, reason="health")}),
        ("partner reads another's request", partner_b, "GET", f"/v1/requests/{own.json()['id']}", {}),
        ("partner reads the office's request", partner_a, "GET", f"/v1/requests/{other}", {}),
        ("partner uploads a batch", partner_a, "POST", "/v1/batches", {"json": {"rows": []}}),
        ("partner reads coverage", partner_a, "GET", "/v1/coverage", {}),
        ("partner reads queue stats", partner_a, "GET", "/v1/queue/stats", {}),
        ("service submits a request", gateway, "POST", "/v1/requests", {"json": request_body(6)}),
        ("service uploads a batch", gateway, "POST", "/v1/batches", {"json": {"rows": []}}),
        (
            "service resolves a review",
            gateway,
            "POST",
            f"/v1/requests/{other}/resolve",
            {"json": {"outcome": "not_printed"}},
        ),
        (
            "operator claims from the queue",
            operator,
            "POST",
            "/v1/queue/claims",
            {"json": {"job_id": "j", "printer_id": "p"}},
        ),
        (
            "operator reports a print",
            operator,
            "POST",
            "/v1/queue/claims/j/printed",
            {"json": {"card_serial": "KTP00000001"}},
        ),
        ("operator reads the audit trail", operator, "GET", "/v1/audit", {}),
    ]
    for what, client, method, path, kwargs in denied:
        response = await client.request(method, path, **kwargs)
        expected = 401 if client is anonymous else 403
        assert response.status_code == expected, (what, response.status_code, response.text)
        assert response.headers["content-type"].startswith("application/problem+json"), what

    # nothing changed: still the two requests, both queued, nothing claimed
    listing = (await operator.get("/v1/requests")).json()
    assert listing["total"] == 2
    assert {r["status"] for r in listing["items"]} == {"queued"}


async def test_a_partner_submits_urgent_requests_and_reads_only_its_own(office: Office) -> None:
    partner = office.as_("partner", subject="rs-abdul-moeloek")
    response = await partner.post("/v1/requests", json=request_body(1, reason="health", channel="partner"))
    assert response.status_code == 201
    assert response.json()["priority"] == "urgent"
    await office.as_("operator").post("/v1/requests", json=request_body(2))
    mine = (await partner.get("/v1/requests")).json()
    assert [r["id"] for r in mine["items"]] == [response.json()["id"]]
    assert (await partner.get(f"/v1/requests/{response.json()['id']}")).status_code == 200
