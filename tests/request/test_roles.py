"""Every role is denied what it may not do (and nothing is changed when it is); no call but the public ones
answers without a token; a clerk submits for its own kecamatan only (docs/architecture.md, "Roles")."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from services.common.auth import KeyPair
from services.inventory.app import create_app as create_inventory
from services.inventory.config import Settings as InventorySettings
from services.request.app import create_app
from services.request.config import Settings
from tests.factories import batch_row, make_nik, request_body
from tests.request.conftest import InProcessRequestService
from tests.support import PUBLIC_PATHS, app_routes, assert_allowed, concrete, running

PROBLEM_JSON = "application/problem+json"


@dataclass
class Denied:
    """One call that must answer 403: ``kind`` is the problem type the caller is shown."""

    what: str
    client: httpx.AsyncClient
    method: str
    path: str
    kind: str = "forbidden"
    kwargs: dict[str, Any] = field(default_factory=dict)


async def assert_denied(calls: list[Denied]) -> None:
    for call in calls:
        response = await call.client.request(call.method, call.path, **call.kwargs)
        assert response.status_code == 403, (call.what, response.status_code, response.text)
        assert response.headers["content-type"].startswith(PROBLEM_JSON), call.what
        assert response.json()["type"].endswith("/" + call.kind), (call.what, response.json())


async def snapshot(office: InProcessRequestService) -> dict[str, Any]:
    """What a denied call could have changed: every request's state, every card's, every batch's, the audit
    trail, capacity and coverage."""
    admin = office.as_("admin")
    requests = (await admin.get("/v1/requests", params={"limit": 500})).json()["items"]
    batches = (await admin.get("/v1/batches", params={"limit": 500})).json()["items"]
    serials = sorted(r["card_serial"] for r in requests if r["card_serial"])
    return {
        "requests": sorted(
            (r["id"], r["status"], r["attempts"], r["job_id"], r["lease_expires_at"], r["card_serial"])
            for r in requests
        ),
        "cards": [(await admin.get(f"/v1/cards/{serial}")).json() for serial in serials],
        "batches": sorted((b["id"], b["status"], b["approved_rows"], b["declined_rows"]) for b in batches),
        "audit_rows": (await admin.get("/v1/audit")).json()["total"],
        "stats": (await admin.get("/v1/queue/stats")).json(),
        "coverage": (await admin.get("/v1/coverage")).json(),
    }


async def submit(client: httpx.AsyncClient, body: dict[str, Any]) -> str:
    response = await client.post("/v1/requests", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def printed_by_the_gateway(office: InProcessRequestService, request_id: str, job: str, serial: str) -> None:
    """The queue holds only ``request_id``: the gateway claims it and reports it printed as ``serial``."""
    gateway = office.as_("service")
    claim = await gateway.post("/v1/queue/claims", json={"job_id": job, "printer_id": "printer-1"})
    assert claim.json()["request_id"] == request_id
    printed = await gateway.post(f"/v1/queue/claims/{job}/printed", json={"card_serial": serial})
    assert printed.json()["status"] == "printed"


async def test_each_role_is_denied_what_it_may_not_do_and_nothing_changes(office: InProcessRequestService) -> None:
    admin, operator, gateway = office.as_("admin"), office.as_("operator"), office.as_("service")
    clerk = office.as_("clerk", scope=["18.09.01"], subject="clerk-gedong-tataan")
    clerk_b = office.as_("clerk", scope=["18.09.02"], subject="clerk-negeri-katon")
    partner_a = office.as_("partner", subject="rs-abdul-moeloek")
    partner_b = office.as_("partner", subject="univ-lampung")

    # Partner A's own requests in the clerk's own kecamatan, one at each step an operator acts on: a denial
    # below is about the role, never about the request's kecamatan, owner or state.
    in_review = await submit(partner_a, request_body(1, reason="health", channel="partner"))
    claim = await gateway.post("/v1/queue/claims", json={"job_id": "job_review", "printer_id": "printer-1"})
    assert claim.json()["request_id"] == in_review
    await gateway.post("/v1/queue/claims/job_review/needs-review", json={"reason": "power lost mid-card"})
    printed = await submit(partner_a, request_body(2, reason="health", channel="partner"))
    await printed_by_the_gateway(office, printed, "job_printed", "KTP00000002")
    activated = await submit(partner_a, request_body(3, reason="health", channel="partner"))
    await printed_by_the_gateway(office, activated, "job_activated", "KTP00000003")
    assert (await operator.post(f"/v1/requests/{activated}/activate", json={"card_serial": "KTP00000003"})).is_success
    replaced = await submit(partner_a, request_body(12, reason="health", channel="partner"))
    await printed_by_the_gateway(office, replaced, "job_replaced", "KTP00000004")
    replacement = await operator.post(f"/v1/requests/{replaced}/replacements", json={"reason": "damaged"})
    assert replacement.status_code == 201, replacement.text  # KTP00000004 is invalid: one to surrender

    office_request = await submit(operator, request_body(4, kecamatan="18.09.02"))
    partners_queued = await submit(partner_a, request_body(5, reason="health", channel="partner"))
    batch = await clerk_b.post("/v1/batches", json={"rows": [batch_row(6, kecamatan="18.09.02"), batch_row(7)]})
    assert batch.status_code == 201, batch.text
    batch_b = batch.json()["id"]  # clerk B's batch: one row of 18.09.02 awaits the office, one of 18.09.01 refused
    assert batch.json()["status"] == "submitted", batch.text

    coverage = {"json": {"obliged": 1, "recorded": 1}}
    capacity = {"json": {"cards_per_hour": 10, "printers": 1}}
    resolve = {"json": {"outcome": "printed", "card_serial": "KTP00000001"}}
    activate = {"json": {"card_serial": "KTP00000002"}}
    handover = {"json": {"received_by": "BUDI SANTOSO"}}
    replace = {"json": {"reason": "damaged", "note": "cracked"}}
    surrender = {"json": {"received_by": "ANI (loket 2)"}}
    decide = {"json": {"approve": "all_valid"}}

    before = await snapshot(office)
    await assert_denied(
        [
            # clerk: its kecamatan's requests and its own batches only; no desk, queue or audit work
            Denied("clerk submits outside its kecamatan", clerk, "POST", "/v1/requests", "out-of-scope",
                   {"json": request_body(8, kecamatan="18.09.02")}),
            Denied("clerk reads outside its kecamatan", clerk, "GET", f"/v1/requests/{office_request}",
                   "out-of-scope"),
            Denied("clerk reads a queue position outside its kecamatan", clerk, "GET",
                   f"/v1/requests/{office_request}/queue", "out-of-scope"),
            Denied("clerk lists outside its kecamatan", clerk, "GET", "/v1/requests", "out-of-scope",
                   {"params": {"kecamatan": "18.09.02"}}),
            Denied("clerk searches by NIK", clerk, "GET", "/v1/requests", "nik-search-forbidden",
                   {"params": {"nik": make_nik(serial=1)}}),
            Denied("clerk cancels outside its kecamatan", clerk, "POST", f"/v1/requests/{office_request}/cancel",
                   "out-of-scope"),
            Denied("clerk reads another kecamatan's batch", clerk, "GET", f"/v1/batches/{batch_b}", "out-of-scope"),
            Denied("clerk reads another kecamatan's batch report", clerk, "GET", f"/v1/batches/{batch_b}/report",
                   "out-of-scope"),
            Denied("clerk resolves a review", clerk, "POST", f"/v1/requests/{in_review}/resolve", kwargs=resolve),
            Denied("clerk activates a card", clerk, "POST", f"/v1/requests/{printed}/activate", kwargs=activate),
            Denied("clerk hands a card over", clerk, "POST", f"/v1/requests/{activated}/handover", kwargs=handover),
            Denied("clerk replaces a card", clerk, "POST", f"/v1/requests/{printed}/replacements", kwargs=replace),
            Denied("clerk reads a card", clerk, "GET", "/v1/cards/KTP00000002"),
            Denied("clerk takes a card back", clerk, "POST", "/v1/cards/KTP00000004/surrender", kwargs=surrender),
            Denied("clerk decides its own proposal", clerk_b, "POST", f"/v1/batches/{batch_b}/decisions",
                   kwargs=decide),
            Denied("clerk reads another clerk's decisions", clerk, "GET", f"/v1/batches/{batch_b}/decisions",
                   "out-of-scope"),
            Denied("clerk sets the queue's capacity", clerk, "PUT", "/v1/queue/capacity", kwargs=capacity),
            Denied("clerk reads the queue's stats", clerk, "GET", "/v1/queue/stats"),
            Denied("clerk sets coverage", clerk, "PUT", "/v1/coverage/18.09.01", kwargs=coverage),
            Denied("clerk reads the audit trail", clerk, "GET", "/v1/audit"),
            # partner: urgent requests through its own channel, and only its own
            Denied("partner submits a regular request", partner_b, "POST", "/v1/requests", "partner-urgent-only",
                   {"json": request_body(9, channel="partner")}),
            Denied("partner submits as walk-in", partner_b, "POST", "/v1/requests", "partner-channel",
                   {"json": request_body(10, reason="health")}),
            Denied("partner reads another partner's request", partner_b, "GET", f"/v1/requests/{partners_queued}",
                   "out-of-scope"),
            Denied("partner reads another partner's queue position", partner_b, "GET",
                   f"/v1/requests/{partners_queued}/queue", "out-of-scope"),
            Denied("partner cancels another partner's request", partner_b, "POST",
                   f"/v1/requests/{partners_queued}/cancel", "out-of-scope"),
            Denied("partner reads the office's request", partner_a, "GET", f"/v1/requests/{office_request}",
                   "out-of-scope"),
            Denied("partner cancels the office's request", partner_a, "POST",
                   f"/v1/requests/{office_request}/cancel", "out-of-scope"),
            Denied("partner resolves its own review", partner_a, "POST", f"/v1/requests/{in_review}/resolve",
                   kwargs=resolve),
            Denied("partner activates its own card", partner_a, "POST", f"/v1/requests/{printed}/activate",
                   kwargs=activate),
            Denied("partner hands its own card over", partner_a, "POST", f"/v1/requests/{activated}/handover",
                   kwargs=handover),
            Denied("partner replaces its own card", partner_a, "POST", f"/v1/requests/{printed}/replacements",
                   kwargs=replace),
            Denied("partner reads its own card", partner_a, "GET", "/v1/cards/KTP00000002"),
            Denied("partner hands its old card in", partner_a, "POST", "/v1/cards/KTP00000004/surrender",
                   kwargs=surrender),
            Denied("partner uploads a batch", partner_a, "POST", "/v1/batches", kwargs={"json": {"rows": []}}),
            Denied("partner reads a batch", partner_a, "GET", f"/v1/batches/{batch_b}"),
            Denied("partner decides a proposal", partner_a, "POST", f"/v1/batches/{batch_b}/decisions",
                   kwargs=decide),
            Denied("partner reads a batch's decisions", partner_a, "GET", f"/v1/batches/{batch_b}/decisions"),
            Denied("partner reads coverage", partner_a, "GET", "/v1/coverage"),
            Denied("partner sets coverage", partner_a, "PUT", "/v1/coverage/18.09.01", kwargs=coverage),
            Denied("partner reads the queue's stats", partner_a, "GET", "/v1/queue/stats"),
            Denied("partner sets the queue's capacity", partner_a, "PUT", "/v1/queue/capacity", kwargs=capacity),
            Denied("partner reads the audit trail", partner_a, "GET", "/v1/audit"),
            # service (the gateway): the queue and reading requests, nothing of the front desk
            Denied("service submits a request", gateway, "POST", "/v1/requests", kwargs={"json": request_body(11)}),
            Denied("service uploads a batch", gateway, "POST", "/v1/batches", kwargs={"json": {"rows": []}}),
            Denied("service lists batches", gateway, "GET", "/v1/batches"),
            Denied("service decides a proposal", gateway, "POST", f"/v1/batches/{batch_b}/decisions", kwargs=decide),
            Denied("service reads a batch's decisions", gateway, "GET", f"/v1/batches/{batch_b}/decisions"),
            Denied("service cancels a request", gateway, "POST", f"/v1/requests/{office_request}/cancel"),
            Denied("service resolves a review", gateway, "POST", f"/v1/requests/{in_review}/resolve",
                   kwargs=resolve),
            Denied("service activates a card", gateway, "POST", f"/v1/requests/{printed}/activate", kwargs=activate),
            Denied("service hands a card over", gateway, "POST", f"/v1/requests/{activated}/handover",
                   kwargs=handover),
            Denied("service replaces a card", gateway, "POST", f"/v1/requests/{printed}/replacements",
                   kwargs=replace),
            Denied("service takes a card back", gateway, "POST", "/v1/cards/KTP00000004/surrender",
                   kwargs=surrender),
            Denied("service reads coverage", gateway, "GET", "/v1/coverage"),
            Denied("service sets coverage", gateway, "PUT", "/v1/coverage/18.09.01", kwargs=coverage),
            Denied("service reads the audit trail", gateway, "GET", "/v1/audit"),
            # operator: everything at the desk, but not the audit trail
            Denied("operator reads the audit trail", operator, "GET", "/v1/audit"),
            # the access log and a resident's whole record: admins only
            *(
                Denied(f"{role} {what}", client, "GET", path)
                for role, client in (("operator", operator), ("clerk", clerk), ("partner", partner_a),
                                     ("service", gateway))
                for what, path in (("reads the access log", "/v1/access-log"),
                                   ("exports a resident's data", f"/v1/residents/{make_nik(serial=1)}/data"))
            ),
            # the Suket: issued, printed, withdrawn and registered at the desk only
            *(
                Denied(f"{role} {what}", client, method, path, kwargs=kwargs)
                for role, client in (("clerk", clerk), ("partner", partner_a), ("service", gateway))
                for what, method, path, kwargs in (
                    ("issues a Suket", "POST", f"/v1/requests/{partners_queued}/suket", {}),
                    ("reads the Suket register", "GET", "/v1/sukets", {}),
                    ("exports the Suket register", "GET", "/v1/sukets/export.csv", {}),
                )
            ),
            # mobile visits: figures and visits are the office's; clerks read the figures only
            *(
                Denied(f"{role} {what}", client, method, path, kwargs=kwargs)
                for role, client in (("clerk", clerk), ("partner", partner_a), ("service", gateway))
                for what, method, path, kwargs in (
                    ("imports desa figures", "PUT", "/v1/desa-figures", {"json": {"rows": []}}),
                    ("plans mobile visits", "GET", "/v1/mobile-visits/plan", {}),
                    ("confirms a mobile visit", "POST", "/v1/mobile-visits", {"json": {}}),
                    ("lists mobile visits", "GET", "/v1/mobile-visits", {}),
                )
            ),
            Denied("partner reads desa figures", partner_a, "GET", "/v1/desa-figures"),
            Denied("service reads desa figures", gateway, "GET", "/v1/desa-figures"),
        ]
    )  # fmt: skip
    assert await snapshot(office) == before

    # and the same calls made by a role that may make them are answered
    assert (await admin.get("/v1/audit")).status_code == 200
    assert (await clerk_b.get(f"/v1/batches/{batch_b}/report")).json()["total"] == 1
    assert (await partner_a.get(f"/v1/requests/{partners_queued}/queue")).status_code == 200
    assert (await clerk.get("/v1/coverage")).status_code == 200
    assert (await operator.get("/v1/queue/stats")).status_code == 200
    assert (await clerk_b.get(f"/v1/batches/{batch_b}/decisions")).json()["total"] == 0
    assert (await gateway.get("/v1/cards/KTP00000004")).json()["valid"] is False


async def test_only_the_gateway_claims_from_the_queue_or_reports_on_a_claim(office: InProcessRequestService) -> None:
    operator, gateway = office.as_("operator"), office.as_("service")
    held = await submit(operator, request_body(1))
    claimed = await gateway.post("/v1/queue/claims", json={"job_id": "job_1", "printer_id": "printer-1"})
    assert claimed.json()["request_id"] == held
    waiting = await submit(operator, request_body(2))  # something a claim could take

    reports = [
        ("renews the lease", "renew", {"lease_seconds": 600}),
        ("releases the claim", "release", {}),
        ("reports the card data sent", "sent", {"printer_id": "printer-1"}),
        ("reports the card printed", "printed", {"card_serial": "KTP00000001", "printer_id": "printer-1"}),
        ("reports a failed print", "failed", {"reason": "ribbon out", "card_used": True}),
        ("reports the job needs review", "needs-review", {"reason": "unknown outcome"}),
    ]
    people = {
        "admin": office.as_("admin"),
        "operator": operator,
        "clerk": office.as_("clerk", scope=["18.09.01"]),
        "partner": office.as_("partner", subject="rs-abdul-moeloek"),
    }
    calls: list[Denied] = []
    for role, client in people.items():
        claim = {"job_id": f"job_{role}", "printer_id": "printer-1"}
        calls.append(
            Denied(f"{role} claims from the queue", client, "POST", "/v1/queue/claims", kwargs={"json": claim})
        )
        for what, report, body in reports:
            path = f"/v1/queue/claims/job_1/{report}"
            calls.append(Denied(f"{role} {what}", client, "POST", path, kwargs={"json": body}))

    before = await snapshot(office)
    await assert_denied(calls)
    assert await snapshot(office) == before
    # the gateway still holds its claim and the other request is still there to be claimed
    assert (await gateway.post("/v1/queue/claims/job_1/renew", json={})).json()["request_id"] == held
    next_claim = await gateway.post("/v1/queue/claims", json={"job_id": "job_2", "printer_id": "printer-1"})
    assert next_claim.json()["request_id"] == waiting


async def test_a_partner_submits_urgent_requests_and_reads_only_its_own(office: InProcessRequestService) -> None:
    partner = office.as_("partner", subject="rs-abdul-moeloek")
    response = await partner.post("/v1/requests", json=request_body(1, reason="health", channel="partner"))
    assert response.status_code == 201
    assert response.json()["priority"] == "urgent"
    await office.as_("operator").post("/v1/requests", json=request_body(2))
    mine = (await partner.get("/v1/requests")).json()
    assert [r["id"] for r in mine["items"]] == [response.json()["id"]]
    assert (await partner.get(f"/v1/requests/{response.json()['id']}")).status_code == 200


async def test_a_clerk_submits_for_its_own_kecamatan_and_is_refused_another_naming_it(
    office: InProcessRequestService,
) -> None:
    clerk = office.as_("clerk", scope=["18.09.01"], subject="clerk-gedong-tataan")
    own = await clerk.post("/v1/requests", json=request_body(1, kecamatan="18.09.01"))
    assert own.status_code == 201, own.text
    assert own.json()["status"] == "queued"
    assert own.json()["submitted_by"] == "clerk-gedong-tataan"
    assert own.headers["location"] == f"/v1/requests/{own.json()['id']}"
    assert (await clerk.get(own.headers["location"])).json()["queue"]["position"] == 1

    other = await clerk.post("/v1/requests", json=request_body(2, kecamatan="18.09.02"))
    assert other.status_code == 403
    assert other.headers["content-type"].startswith(PROBLEM_JSON)
    problem = other.json()
    assert problem["type"].endswith("/out-of-scope")
    assert "18.09.02" in problem["detail"]
    assert "scope" in problem["detail"]
    listing = (await office.as_("operator").get("/v1/requests")).json()
    assert [r["id"] for r in listing["items"]] == [own.json()["id"]]


PATH_VALUES = {
    "kecamatan_code": "18.09.01",
    "job_id": "job_1",
    "serial": "KTP99999999",
    "nik": "1809011705909999",
    "username": "nobody",
    "partner_id": "ptn_0000000000000000",
    "delivery_id": "msg_999999",
    "suket_id": "00000000-0000-0000-0000-000000000000",
    "code": "no-such-verification-code-000000",
    "visit_id": "00000000-0000-4000-8000-000000000000",
}
SIGN_IN = "/v1/auth/token"
SUKET_VERIFY = "/v1/sukets/verify/{code}"


def public(path: str) -> bool:
    """Answered without a token: the paths every service leaves open, and the static console (it holds no data;
    every call it makes carries the staff member's token), the sign-in form (a password, not yet a token), and a
    Suket's verification page (its QR code, opened by anyone: the unguessable code is the key)."""
    return path in PUBLIC_PATHS or path in (SIGN_IN, SUKET_VERIFY) or path == "/console" or path.startswith("/console/")


async def test_every_route_but_the_public_ones_answers_401_without_a_token(office: InProcessRequestService) -> None:
    protected = sorted((method, path) for method, path in app_routes(office.app) if not public(path))
    documented = {(method.upper(), path) for path, ops in office.app.openapi()["paths"].items() for method in ops}
    assert {call for call in documented if not public(call[1])} <= set(protected)  # the walk missed nothing
    assert ("POST", "/v1/queue/claims") in protected
    assert ("GET", "/v1/audit") in protected

    anonymous = office.anonymous()
    for method, path in protected:
        url = concrete(path, PATH_VALUES)
        response = await anonymous.request(method, url)
        assert response.status_code == 401, (method, url, response.status_code, response.text)
        assert response.headers["content-type"].startswith(PROBLEM_JSON), (method, url)
        assert response.headers["www-authenticate"] == "Bearer", (method, url)

    for path in ("/healthz", "/readyz", "/docs", "/openapi.json", "/console/"):
        assert (await anonymous.get(path)).status_code == 200, path
    assert (await anonymous.get(concrete(SUKET_VERIFY, PATH_VALUES))).status_code == 404  # read, not refused
    assert (await anonymous.post(SIGN_IN)).status_code == 422  # the form is read without a token


EVERYONE = frozenset({"admin", "operator", "clerk", "partner", "service"})
SUBMITTERS = frozenset({"admin", "operator", "clerk", "partner"})
DESK = frozenset({"admin", "operator"})
UPLOADERS = frozenset({"admin", "operator", "clerk"})
GATEWAY = frozenset({"service"})
STAFF = frozenset({"admin", "operator", "clerk"})
ADMIN = frozenset({"admin"})
WATCHERS = frozenset({"admin", "operator", "service"})

# Every protected route with the roles allowed it (docs/architecture.md, "Roles" and the API tables).
POLICY: dict[tuple[str, str], frozenset[str]] = {
    ("POST", "/v1/requests"): SUBMITTERS,
    ("GET", "/v1/requests"): EVERYONE,
    ("GET", "/v1/requests/{request_id}"): EVERYONE,
    ("GET", "/v1/requests/{request_id}/queue"): EVERYONE,
    ("GET", "/v1/requests/{request_id}/history"): EVERYONE,
    ("POST", "/v1/requests/{request_id}/cancel"): SUBMITTERS,
    ("POST", "/v1/requests/{request_id}/resolve"): DESK,
    ("POST", "/v1/requests/{request_id}/activate"): DESK,
    ("POST", "/v1/requests/{request_id}/handover"): DESK,
    ("POST", "/v1/requests/{request_id}/replacements"): DESK,
    ("GET", "/v1/cards/{serial}"): WATCHERS,
    ("POST", "/v1/cards/{serial}/surrender"): DESK,
    ("POST", "/v1/batches"): UPLOADERS,
    ("GET", "/v1/batches"): UPLOADERS,
    ("GET", "/v1/batches/{batch_id}"): UPLOADERS,
    ("GET", "/v1/batches/{batch_id}/report"): UPLOADERS,
    ("POST", "/v1/batches/{batch_id}/decisions"): DESK,
    ("GET", "/v1/batches/{batch_id}/decisions"): UPLOADERS,  # a clerk: the batches it uploaded
    ("GET", "/v1/coverage"): UPLOADERS,
    ("PUT", "/v1/coverage/{kecamatan_code}"): DESK,
    ("POST", "/v1/queue/claims"): GATEWAY,
    ("POST", "/v1/queue/claims/{job_id}/renew"): GATEWAY,
    ("POST", "/v1/queue/claims/{job_id}/release"): GATEWAY,
    ("POST", "/v1/queue/claims/{job_id}/sent"): GATEWAY,
    ("POST", "/v1/queue/claims/{job_id}/printed"): GATEWAY,
    ("POST", "/v1/queue/claims/{job_id}/failed"): GATEWAY,
    ("POST", "/v1/queue/claims/{job_id}/needs-review"): GATEWAY,
    ("GET", "/v1/queue/stats"): WATCHERS,
    ("PUT", "/v1/queue/capacity"): WATCHERS,
    ("GET", "/v1/regions"): EVERYONE,
    ("GET", "/v1/audit"): frozenset({"admin"}),
    ("GET", "/v1/audit/export"): frozenset({"admin"}),
    ("GET", "/v1/access-log"): frozenset({"admin"}),
    ("GET", "/v1/residents/{nik}/data"): frozenset({"admin"}),
    ("POST", "/v1/auth/sign-out"): STAFF,
    ("GET", "/v1/users"): ADMIN,
    ("POST", "/v1/users"): ADMIN,
    ("PATCH", "/v1/users/{username}"): ADMIN,
    ("POST", "/v1/partners"): ADMIN,
    ("GET", "/v1/partners"): ADMIN,
    ("GET", "/v1/partners/{partner_id}"): ADMIN,
    ("PATCH", "/v1/partners/{partner_id}"): ADMIN,
    ("POST", "/v1/partners/{partner_id}/secrets"): ADMIN,
    ("GET", "/v1/partners/{partner_id}/deliveries"): ADMIN,
    ("GET", "/v1/partners/me/deliveries"): frozenset({"partner"}),
    ("POST", "/v1/partners/me/deliveries/{delivery_id}/redeliver"): frozenset({"partner"}),
    ("POST", "/v1/requests/{request_id}/suket"): DESK,
    ("GET", "/v1/sukets"): DESK,
    ("GET", "/v1/sukets/export.csv"): DESK,
    ("GET", "/v1/sukets/{suket_id}"): DESK,
    ("GET", "/v1/sukets/{suket_id}.pdf"): DESK,
    ("POST", "/v1/sukets/{suket_id}/cancel"): DESK,
    ("PUT", "/v1/desa-figures"): DESK,
    ("GET", "/v1/desa-figures"): UPLOADERS,  # as coverage: a clerk reads every desa's
    ("GET", "/v1/mobile-visits/plan"): DESK,
    ("POST", "/v1/mobile-visits"): DESK,
    ("GET", "/v1/mobile-visits"): DESK,
    ("GET", "/v1/mobile-visits/{visit_id}"): DESK,
    ("POST", "/v1/mobile-visits/{visit_id}/outcome"): DESK,
    ("POST", "/v1/mobile-visits/{visit_id}/requests"): DESK,
}


# What an allowed role is answered when it calls a route with a made-up id and no body: the list or the figures,
# else the 404 of an unknown request, card, batch or job, or the 422 of a missing body. Never a 5xx.
WITHOUT_ITS_DATA: dict[tuple[str, str], int] = {
    ("POST", "/v1/requests"): 422,
    ("GET", "/v1/requests"): 200,
    ("GET", "/v1/requests/{request_id}"): 404,
    ("GET", "/v1/requests/{request_id}/queue"): 404,
    ("GET", "/v1/requests/{request_id}/history"): 404,
    ("POST", "/v1/requests/{request_id}/cancel"): 404,
    ("POST", "/v1/requests/{request_id}/resolve"): 422,
    ("POST", "/v1/requests/{request_id}/activate"): 422,
    ("POST", "/v1/requests/{request_id}/handover"): 422,
    ("POST", "/v1/requests/{request_id}/replacements"): 422,
    ("GET", "/v1/cards/{serial}"): 404,
    ("POST", "/v1/cards/{serial}/surrender"): 422,
    ("POST", "/v1/batches"): 422,
    ("GET", "/v1/batches"): 200,
    ("GET", "/v1/batches/{batch_id}"): 404,
    ("GET", "/v1/batches/{batch_id}/report"): 404,
    ("POST", "/v1/batches/{batch_id}/decisions"): 422,
    ("GET", "/v1/batches/{batch_id}/decisions"): 404,
    ("GET", "/v1/coverage"): 200,
    ("PUT", "/v1/coverage/{kecamatan_code}"): 422,
    ("POST", "/v1/queue/claims"): 422,
    ("POST", "/v1/queue/claims/{job_id}/renew"): 422,
    ("POST", "/v1/queue/claims/{job_id}/release"): 404,
    ("POST", "/v1/queue/claims/{job_id}/sent"): 422,
    ("POST", "/v1/queue/claims/{job_id}/printed"): 422,
    ("POST", "/v1/queue/claims/{job_id}/failed"): 422,
    ("POST", "/v1/queue/claims/{job_id}/needs-review"): 422,
    ("GET", "/v1/queue/stats"): 200,
    ("PUT", "/v1/queue/capacity"): 422,
    ("GET", "/v1/regions"): 200,
    ("GET", "/v1/audit"): 200,
    ("GET", "/v1/audit/export"): 200,
    ("GET", "/v1/access-log"): 200,
    ("GET", "/v1/residents/{nik}/data"): 200,  # a NIK with nothing held: an empty document
    ("POST", "/v1/auth/sign-out"): 204,
    ("GET", "/v1/users"): 200,
    ("POST", "/v1/users"): 422,
    ("PATCH", "/v1/users/{username}"): 422,
    ("POST", "/v1/partners"): 422,
    ("GET", "/v1/partners"): 200,
    ("GET", "/v1/partners/{partner_id}"): 404,
    ("PATCH", "/v1/partners/{partner_id}"): 422,
    ("POST", "/v1/partners/{partner_id}/secrets"): 422,
    ("GET", "/v1/partners/{partner_id}/deliveries"): 404,
    ("GET", "/v1/partners/me/deliveries"): 200,
    ("POST", "/v1/partners/me/deliveries/{delivery_id}/redeliver"): 404,
    ("POST", "/v1/requests/{request_id}/suket"): 404,
    ("GET", "/v1/sukets"): 200,
    ("GET", "/v1/sukets/export.csv"): 200,
    ("GET", "/v1/sukets/{suket_id}"): 404,
    ("GET", "/v1/sukets/{suket_id}.pdf"): 404,
    ("POST", "/v1/sukets/{suket_id}/cancel"): 422,
    ("PUT", "/v1/desa-figures"): 422,
    ("GET", "/v1/desa-figures"): 200,
    ("GET", "/v1/mobile-visits/plan"): 200,
    ("POST", "/v1/mobile-visits"): 422,
    ("GET", "/v1/mobile-visits"): 200,
    ("GET", "/v1/mobile-visits/{visit_id}"): 404,
    ("POST", "/v1/mobile-visits/{visit_id}/outcome"): 422,
    ("POST", "/v1/mobile-visits/{visit_id}/requests"): 404,  # the visit before the body
}


async def test_the_policy_names_every_protected_route(office: InProcessRequestService) -> None:
    assert {(m, p) for m, p in app_routes(office.app) if not public(p)} == set(POLICY) == set(WITHOUT_ITS_DATA)
    assert set().union(*POLICY.values()) == EVERYONE


async def test_each_role_allowed_a_route_gets_the_answer_for_missing_data_not_a_server_error(
    office: InProcessRequestService,
) -> None:
    for (method, path), allowed in sorted(POLICY.items()):
        for role in sorted(allowed):
            response = await office.as_(role).request(method, concrete(path, PATH_VALUES))
            assert_allowed(response, (role, method, path), WITHOUT_ITS_DATA[(method, path)])


@pytest.fixture
async def office_with_inventory(
    request_settings: Callable[..., Settings],
    migrated_db: Callable[[str], str],
    keys: KeyPair,
    make_token: Callable[..., str],
    client_for: Callable[..., httpx.AsyncClient],
) -> AsyncIterator[InProcessRequestService]:
    """The request service with the real inventory app mounted behind it (as in tests/request/test_replacements.py):
    a surrendered card goes into the inventory's custody."""
    inventory = create_inventory(
        InventorySettings(
            database_url=migrated_db("inventory"),
            jwt_public_key=keys.public_pem.decode(),
            start_sweeper=False,
            request_url="http://127.0.0.1:9",
        )
    )
    settings = request_settings(service_token=make_token("service", subject="request-service"))
    app = create_app(settings, inventory_transport=httpx.ASGITransport(app=inventory))
    async with running(inventory), running(app):
        office = InProcessRequestService(app, make_token, client_for)
        try:
            yield office
        finally:
            await office.close()


async def test_each_role_allowed_a_route_is_served_when_its_call_is_valid(
    office_with_inventory: InProcessRequestService,
) -> None:
    """Every route, by every role allowed it, with a valid body on a request in the right state: a 2xx."""
    office = office_with_inventory
    operator, gateway = office.as_("operator"), office.as_("service")
    partner, clerk = office.as_("partner"), office.as_("clerk", scope=["18.09.01"])
    residents = iter(range(20, 500))

    async def claimed(job: str) -> str:
        """A request the gateway claimed as ``job`` (the queue holds nothing else when it claims)."""
        request_id = await submit(operator, request_body(next(residents)))
        claim = await gateway.post("/v1/queue/claims", json={"job_id": job, "printer_id": "printer-1"})
        assert claim.status_code == 201, claim.text
        assert claim.json()["request_id"] == request_id
        return request_id

    cards: dict[str, str] = {}  # job -> the serial of the card it printed

    async def printed(job: str) -> str:
        request_id = await claimed(job)
        cards[job] = f"KTP{101 + len(cards):08d}"
        report = {"card_serial": cards[job], "printer_id": "printer-1"}
        assert (await gateway.post(f"/v1/queue/claims/{job}/printed", json=report)).status_code == 200
        return request_id

    in_review, printed_cards, activated = {}, {}, {}
    for role in sorted(DESK):
        in_review[role] = await claimed(f"job_review_{role}")
        review = await gateway.post(f"/v1/queue/claims/job_review_{role}/needs-review", json={"reason": "unknown"})
        assert review.json()["status"] == "needs_review", review.text
        printed_cards[role] = await printed(f"job_printed_{role}")
        activated[role] = await printed(f"job_activated_{role}")
        card = {"card_serial": cards[f"job_activated_{role}"]}
        assert (await operator.post(f"/v1/requests/{activated[role]}/activate", json=card)).status_code == 200
    replaceable, to_replace, invalid_cards = {}, {}, {}  # printed, to be replaced; replaced: its card invalid
    for role in sorted(DESK):
        replaceable[role] = await printed(f"job_replaceable_{role}")
        to_replace[role] = await printed(f"job_invalid_{role}")
        invalid_cards[role] = cards[f"job_invalid_{role}"]
    for report in ("renew", "release", "sent", "printed", "failed", "needs-review"):
        await claimed(f"job_{report}")
    for old in to_replace.values():  # after the last claim here: a replacement queues a (regular) request
        replaced = await operator.post(f"/v1/requests/{old}/replacements", json={"reason": "damaged"})
        assert replaced.status_code == 201, replaced.text
    head = await submit(operator, request_body(next(residents), reason="health"))  # what the next claim takes
    # Residents waiting for their (regular) card, behind head: one to get a Suket from each desk role, one whose
    # Suket each withdraws, and one whose Suket is read and printed.
    awaiting_suket = {role: await submit(operator, request_body(next(residents))) for role in sorted(DESK)}
    sukets = {}
    for holder in [*sorted(DESK), "printed"]:
        made = await operator.post(f"/v1/requests/{await submit(operator, request_body(next(residents)))}/suket")
        assert made.status_code == 201, made.text
        sukets[holder] = made.json()["id"]
    # A mobile visit today to the desa request_body's residents live in, with the desa's figures; the residents
    # it brings back, one upload for each desk role.
    desa = {"rows": [{"village_code": "18.09.01.2001", "obliged": 900, "recorded": 700}]}
    assert (await operator.put("/v1/desa-figures", json=desa)).status_code == 200
    visit = {"date": office.app.state.context.today().isoformat(), "village_codes": ["18.09.01.2001"], "team": "1"}
    confirmed = await operator.post("/v1/mobile-visits", json=visit)
    assert confirmed.status_code == 201, confirmed.text
    visit_url = f"/v1/mobile-visits/{confirmed.json()['id']}"
    visit_rows = {role: {"rows": [batch_row(next(residents))]} for role in sorted(DESK)}
    readable = await submit(partner, request_body(next(residents), reason="health", channel="partner"))
    cancellable = {
        role: await submit(partner, request_body(next(residents), reason="health", channel="partner"))
        for role in sorted(SUBMITTERS)
    }
    batch = await clerk.post("/v1/batches", json={"rows": [batch_row(next(residents))]})
    assert batch.status_code == 201, batch.text
    clerks_batch = batch.json()["id"]
    proposals = {}  # a clerk's batch awaiting the office's decision, one for each role that decides
    for role in sorted(DESK):
        proposal = await clerk.post("/v1/batches", json={"rows": [batch_row(next(residents))]})
        assert proposal.json()["status"] == "submitted", proposal.text
        proposals[role] = proposal.json()["id"]

    staff = {"username": "loket-1", "password": "pempek-palembang", "role": "operator"}
    assert (await office.as_("admin").post("/v1/users", json=staff)).status_code == 201
    hospital = {"name": "RSUD", "contact": "it@rsud.example", "allowed_reasons": ["health"]}
    registered = await office.as_("admin").post("/v1/partners", json=hospital)
    assert registered.status_code == 201, registered.text
    partner_url = f"/v1/partners/{registered.json()['client_id']}"

    def new_request(role: str) -> dict[str, Any]:
        if role == "partner":
            return request_body(next(residents), reason="health", channel="partner")
        return request_body(next(residents))

    def valid(role: str, method: str, path: str) -> tuple[str, dict[str, Any], int]:
        """The call ``role`` makes on the route: its URL, its body, the status it must get."""
        request, job = f"/v1/requests/{readable}", "/v1/queue/claims/job_"
        calls: dict[tuple[str, str], tuple[str, dict[str, Any], int]] = {
            ("POST", "/v1/requests"): ("/v1/requests", {"json": new_request(role)}, 201),
            ("GET", "/v1/requests"): ("/v1/requests", {}, 200),
            ("GET", "/v1/requests/{request_id}"): (request, {}, 200),
            ("GET", "/v1/requests/{request_id}/queue"): (f"{request}/queue", {}, 200),
            ("GET", "/v1/requests/{request_id}/history"): (f"{request}/history", {}, 200),
            ("POST", "/v1/requests/{request_id}/cancel"): (
                f"/v1/requests/{cancellable.get(role)}/cancel",
                {"json": {"note": "resident asked"}},
                200,
            ),
            ("POST", "/v1/requests/{request_id}/resolve"): (
                f"/v1/requests/{in_review.get(role)}/resolve",
                {"json": {"outcome": "not_printed"}},
                200,
            ),
            ("POST", "/v1/requests/{request_id}/activate"): (
                f"/v1/requests/{printed_cards.get(role)}/activate",
                {"json": {"card_serial": cards.get(f"job_printed_{role}")}},
                200,
            ),
            ("POST", "/v1/requests/{request_id}/handover"): (
                f"/v1/requests/{activated.get(role)}/handover",
                {"json": {"received_by": "BUDI SANTOSO"}},
                200,
            ),
            ("POST", "/v1/requests/{request_id}/replacements"): (
                f"/v1/requests/{replaceable.get(role)}/replacements",
                {"json": {"reason": "damaged", "note": "cracked at the lamination"}},
                201,
            ),
            ("GET", "/v1/cards/{serial}"): (f"/v1/cards/{cards['job_printed_admin']}", {}, 200),
            ("POST", "/v1/cards/{serial}/surrender"): (
                f"/v1/cards/{invalid_cards.get(role)}/surrender",
                {"json": {"received_by": "ANI (loket 2)", "note": "brought back by the resident"}},
                200,
            ),
            ("POST", "/v1/batches"): ("/v1/batches", {"json": {"rows": [batch_row(next(residents))]}}, 201),
            ("GET", "/v1/batches"): ("/v1/batches", {}, 200),
            ("GET", "/v1/batches/{batch_id}"): (f"/v1/batches/{clerks_batch}", {}, 200),
            ("GET", "/v1/batches/{batch_id}/report"): (f"/v1/batches/{clerks_batch}/report", {}, 200),
            ("POST", "/v1/batches/{batch_id}/decisions"): (
                f"/v1/batches/{proposals.get(role)}/decisions",
                {"json": {"approve": "all_valid"}},
                200,
            ),
            ("GET", "/v1/batches/{batch_id}/decisions"): (f"/v1/batches/{clerks_batch}/decisions", {}, 200),
            ("GET", "/v1/coverage"): ("/v1/coverage", {}, 200),
            ("PUT", "/v1/coverage/{kecamatan_code}"): (
                "/v1/coverage/18.09.01",
                {"json": {"obliged": 1000, "recorded": 900}},
                200,
            ),
            ("POST", "/v1/queue/claims"): (
                "/v1/queue/claims",
                {"json": {"job_id": "job_head", "printer_id": "printer-1"}},
                201,
            ),
            ("POST", "/v1/queue/claims/{job_id}/renew"): (f"{job}renew/renew", {"json": {"lease_seconds": 600}}, 200),
            ("POST", "/v1/queue/claims/{job_id}/release"): (f"{job}release/release", {"json": {}}, 200),
            ("POST", "/v1/queue/claims/{job_id}/sent"): (f"{job}sent/sent", {"json": {"printer_id": "printer-1"}}, 200),
            ("POST", "/v1/queue/claims/{job_id}/printed"): (
                f"{job}printed/printed",
                {"json": {"card_serial": "KTP00000042", "printer_id": "printer-1"}},
                200,
            ),
            ("POST", "/v1/queue/claims/{job_id}/failed"): (
                f"{job}failed/failed",
                {"json": {"reason": "ribbon out", "card_used": False}},
                200,
            ),
            ("POST", "/v1/queue/claims/{job_id}/needs-review"): (
                f"{job}needs-review/needs-review",
                {"json": {"reason": "power lost mid-card"}},
                200,
            ),
            ("GET", "/v1/queue/stats"): ("/v1/queue/stats", {}, 200),
            ("PUT", "/v1/queue/capacity"): ("/v1/queue/capacity", {"json": {"cards_per_hour": 25, "printers": 2}}, 200),
            ("GET", "/v1/regions"): ("/v1/regions", {}, 200),
            ("GET", "/v1/audit"): ("/v1/audit", {}, 200),
            ("GET", "/v1/audit/export"): ("/v1/audit/export", {}, 200),
            ("GET", "/v1/access-log"): ("/v1/access-log", {"params": {"nik": make_nik(serial=20)}}, 200),
            # resident 20: the first request made above (in review)
            ("GET", "/v1/residents/{nik}/data"): (f"/v1/residents/{make_nik(serial=20)}/data", {}, 200),
            ("POST", "/v1/auth/sign-out"): ("/v1/auth/sign-out", {}, 204),
            ("GET", "/v1/users"): ("/v1/users", {}, 200),
            ("POST", "/v1/users"): (
                "/v1/users",
                {"json": {"username": "loket-2", "password": "pempek-palembang", "role": "operator"}},
                201,
            ),
            ("PATCH", "/v1/users/{username}"): ("/v1/users/loket-1", {"json": {"full_name": "ANI"}}, 200),
            ("POST", "/v1/partners"): ("/v1/partners", {"json": hospital}, 201),
            ("GET", "/v1/partners"): ("/v1/partners", {}, 200),
            ("GET", "/v1/partners/{partner_id}"): (partner_url, {}, 200),
            ("PATCH", "/v1/partners/{partner_id}"): (partner_url, {"json": {"contact": "ti@rsud.example"}}, 200),
            ("POST", "/v1/partners/{partner_id}/secrets"): (
                f"{partner_url}/secrets",
                {"json": {"kind": "webhook"}},
                201,
            ),
            ("GET", "/v1/partners/{partner_id}/deliveries"): (f"{partner_url}/deliveries", {}, 200),
            ("GET", "/v1/partners/me/deliveries"): ("/v1/partners/me/deliveries", {}, 200),
            # This partner (a token made by `ektp token create`) has no delivery 1: its own data's 404, not a 403.
            ("POST", "/v1/partners/me/deliveries/{delivery_id}/redeliver"): (
                "/v1/partners/me/deliveries/msg_1/redeliver",
                {},
                404,
            ),
            ("POST", "/v1/requests/{request_id}/suket"): (f"/v1/requests/{awaiting_suket.get(role)}/suket", {}, 201),
            ("GET", "/v1/sukets"): ("/v1/sukets", {"params": {"status": "valid"}}, 200),
            ("GET", "/v1/sukets/export.csv"): ("/v1/sukets/export.csv", {}, 200),
            ("GET", "/v1/sukets/{suket_id}"): (f"/v1/sukets/{sukets['printed']}", {}, 200),
            ("GET", "/v1/sukets/{suket_id}.pdf"): (f"/v1/sukets/{sukets['printed']}.pdf", {}, 200),
            ("POST", "/v1/sukets/{suket_id}/cancel"): (
                f"/v1/sukets/{sukets.get(role)}/cancel",
                {"json": {"reason": "issued on the wrong request"}},
                200,
            ),
            ("PUT", "/v1/desa-figures"): ("/v1/desa-figures", {"json": desa}, 200),
            ("GET", "/v1/desa-figures"): ("/v1/desa-figures", {"params": {"kecamatan": "18.09.01"}}, 200),
            ("GET", "/v1/mobile-visits/plan"): ("/v1/mobile-visits/plan", {"params": {"days": 3}}, 200),
            ("POST", "/v1/mobile-visits"): ("/v1/mobile-visits", {"json": visit}, 201),
            ("GET", "/v1/mobile-visits"): ("/v1/mobile-visits", {}, 200),
            ("GET", "/v1/mobile-visits/{visit_id}"): (visit_url, {}, 200),
            ("POST", "/v1/mobile-visits/{visit_id}/outcome"): (
                f"{visit_url}/outcome",
                {"json": {"desa": [{"village_code": "18.09.01.2001", "recorded": 40}]}},
                200,
            ),
            ("POST", "/v1/mobile-visits/{visit_id}/requests"): (
                f"{visit_url}/requests",
                {"json": visit_rows.get(role)},
                201,
            ),
        }
        assert set(calls) == set(POLICY)
        return calls[(method, path)]

    clients = {
        "admin": office.as_("admin"),
        "operator": operator,
        "clerk": clerk,
        "partner": partner,
        "service": gateway,
    }
    for (method, path), allowed in sorted(POLICY.items()):
        for role in sorted(allowed):
            url, kwargs, status = valid(role, method, path)
            assert_allowed(await clients[role].request(method, url, **kwargs), (role, method, url), status)

    admin = clients["admin"]
    assert (await admin.get(f"/v1/requests/{head}")).json()["job_id"] == "job_head"
    assert {(await admin.get(f"/v1/requests/{r}")).json()["status"] for r in cancellable.values()} == {"cancelled"}
    assert {(await admin.get(f"/v1/requests/{r}")).json()["status"] for r in activated.values()} == {"collected"}
    assert {(await admin.get(f"/v1/requests/{r}")).json()["status"] for r in replaceable.values()} == {"replaced"}
    assert {(await admin.get(f"/v1/cards/{c}")).json()["status"] for c in invalid_cards.values()} == {"surrendered"}
    assert {(await admin.get(f"/v1/batches/{b}")).json()["status"] for b in proposals.values()} == {"approved"}
