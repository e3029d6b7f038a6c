"""Who may call what on the printer gateway (the ``Authorize`` of services/gateway/fleet/endpoints.py,
jobs/endpoints.py and services/common/audit.py): admin and operator run the printers (commission, pause,
resume) and the jobs and see the previews; only admin registers or removes a printer (that decides which port
the gateway opens) and reads the audit trail; clerk, partner and service (the gateway's own role at its peers)
are denied every route. Nothing but the public routes answers without a token, and a denied call
changes nothing: not the fleet, the jobs, the audit trail, nor what the peers are told."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from services.common.auth import KeyPair, Role, generate_key_pair, issue_token
from services.gateway.fleet.states import PrinterLifecycle
from services.gateway.journal.steps import Step
from tests.gateway.in_process import REQUEST_ID, InProcessGateway
from tests.support import PUBLIC_PATHS, app_routes, assert_allowed, concrete

PROBLEM_JSON = "application/problem+json"

MANAGE = frozenset({"admin", "operator"})
ADMIN = frozenset({"admin"})

# Every route the app has, with the roles allowed; the walk below fails if a route is added without a line here.
POLICY: dict[tuple[str, str], frozenset[str]] = {
    ("POST", "/v1/printers"): ADMIN,
    ("GET", "/v1/printers"): MANAGE,
    ("GET", "/v1/printers/{printer_id}"): MANAGE,
    ("POST", "/v1/printers/{printer_id}/commission"): MANAGE,
    ("POST", "/v1/printers/{printer_id}/pause"): MANAGE,
    ("POST", "/v1/printers/{printer_id}/resume"): MANAGE,
    ("DELETE", "/v1/printers/{printer_id}"): ADMIN,
    ("GET", "/v1/jobs"): MANAGE,
    ("GET", "/v1/jobs/{job_id}"): MANAGE,
    ("GET", "/v1/jobs/{job_id}/preview.png"): MANAGE,
    ("GET", "/v1/requests/{request_id}/preview.png"): MANAGE,
    ("POST", "/v1/jobs/{job_id}/cancel"): MANAGE,
    ("POST", "/v1/jobs/{job_id}/resolve"): MANAGE,
    ("GET", "/v1/audit"): ADMIN,
    ("GET", "/v1/audit/export"): ADMIN,
}

# What an allowed role is answered when it calls a route with a made-up id and no body: the lists, else the 404
# of an unknown printer, job or request, or the 422 of a missing body. Never a 5xx.
WITHOUT_ITS_DATA: dict[tuple[str, str], int] = {
    ("POST", "/v1/printers"): 422,
    ("GET", "/v1/printers"): 200,
    ("GET", "/v1/printers/{printer_id}"): 404,
    ("POST", "/v1/printers/{printer_id}/commission"): 404,
    ("POST", "/v1/printers/{printer_id}/pause"): 404,
    ("POST", "/v1/printers/{printer_id}/resume"): 404,
    ("DELETE", "/v1/printers/{printer_id}"): 404,
    ("GET", "/v1/jobs"): 200,
    ("GET", "/v1/jobs/{job_id}"): 404,
    ("GET", "/v1/jobs/{job_id}/preview.png"): 404,
    ("GET", "/v1/requests/{request_id}/preview.png"): 404,
    ("POST", "/v1/jobs/{job_id}/cancel"): 404,
    ("POST", "/v1/jobs/{job_id}/resolve"): 422,
    ("GET", "/v1/audit"): 200,
    ("GET", "/v1/audit/export"): 200,
}


def assert_problem(response: httpx.Response, status: int, kind: str, what: object) -> None:
    assert response.status_code == status, (what, response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM_JSON), what
    assert response.json()["type"].endswith("/" + kind), (what, response.json())


async def snapshot(office: InProcessGateway) -> dict[str, Any]:
    """What a denied call could have changed: the fleet, every job with its journal, the audit trail, what the
    peers were told, and the cancellations the dispatch loops would act on."""
    admin = office.by_role["admin"]
    printers = (await admin.get("/v1/printers", params={"include_removed": True})).json()
    jobs = (await admin.get("/v1/jobs", params={"limit": 500})).json()["items"]
    return {
        "printers": printers,
        "jobs": [(await admin.get(f"/v1/jobs/{job['id']}")).json() for job in jobs],
        "audit": (await admin.get("/v1/audit", params={"limit": 500})).json(),
        "peer calls": list(office.peers.calls),
        "cancels": sorted(office.dispatcher.cancels),
    }


async def test_the_policy_names_every_route_and_every_role(office: InProcessGateway) -> None:
    found = app_routes(office.app)
    assert {(m, p) for m, p in found if p not in PUBLIC_PATHS} == set(POLICY)
    assert {p for _, p in found} >= PUBLIC_PATHS - {"/docs/oauth2-redirect"}
    assert set(office.by_role) == {role.value for role in Role}
    assert all(allowed <= set(office.by_role) for allowed in POLICY.values())


async def test_every_route_but_the_public_ones_answers_401_without_a_valid_token(
    office: InProcessGateway, client_for: Callable[..., httpx.AsyncClient]
) -> None:
    stranger: KeyPair = generate_key_pair()  # a well-formed token this gateway's key did not sign
    forged = issue_token(stranger.private_pem, role=Role.ADMIN, subject="mallory")
    async with client_for(office.app, forged) as forger, client_for(office.app) as basic:
        basic.headers["Authorization"] = "Basic YWRtaW46YWRtaW4="
        before = await snapshot(office)
        for method, path in sorted(POLICY):
            response = await office.anonymous.request(method, concrete(path))
            assert_problem(response, 401, "token-missing", (method, path))
            assert response.headers["www-authenticate"] == "Bearer", (method, path)
            assert_problem(await basic.request(method, concrete(path)), 401, "token-missing", ("basic", method, path))
            assert_problem(await forger.request(method, concrete(path)), 401, "token-invalid", ("forged", method, path))
        assert await snapshot(office) == before

    for path in sorted(PUBLIC_PATHS - {"/docs/oauth2-redirect"}):
        assert (await office.anonymous.get(path)).status_code == 200, path


async def test_each_role_is_denied_every_route_the_policy_does_not_give_it_and_nothing_changes(
    office: InProcessGateway,
) -> None:
    # Objects each denied call would change if it went through: a printer for each state change, a job that
    # can still be cancelled, a job waiting for an operator's resolution.
    registered = await office.printer("p-registered")
    ready = await office.printer("p-ready", to=(PrinterLifecycle.COMMISSIONING, PrinterLifecycle.READY))
    paused = await office.printer(
        "p-paused", to=(PrinterLifecycle.COMMISSIONING, PrinterLifecycle.READY, PrinterLifecycle.PAUSED)
    )
    claimed = await office.job(ready)
    in_review = await office.job(
        ready,
        steps=(Step.RESERVED, Step.RENDERED, Step.SENT, Step.PRINTING, Step.UNKNOWN, Step.REVIEW),
    )
    calls: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {
        ("POST", "/v1/printers"): ("/v1/printers", {"json": {"name": "p-new", "url": "socket://127.0.0.1:9"}}),
        ("GET", "/v1/printers"): ("/v1/printers", {}),
        ("GET", "/v1/printers/{printer_id}"): (f"/v1/printers/{ready}", {}),
        ("POST", "/v1/printers/{printer_id}/commission"): (f"/v1/printers/{registered}/commission", {}),
        ("POST", "/v1/printers/{printer_id}/pause"): (f"/v1/printers/{ready}/pause", {}),
        ("POST", "/v1/printers/{printer_id}/resume"): (f"/v1/printers/{paused}/resume", {}),
        ("DELETE", "/v1/printers/{printer_id}"): (f"/v1/printers/{ready}", {}),
        ("GET", "/v1/jobs"): ("/v1/jobs", {}),
        ("GET", "/v1/jobs/{job_id}"): (f"/v1/jobs/{in_review}", {}),
        ("GET", "/v1/jobs/{job_id}/preview.png"): (f"/v1/jobs/{in_review}/preview.png", {}),
        ("GET", "/v1/requests/{request_id}/preview.png"): (f"/v1/requests/{REQUEST_ID}/preview.png", {}),
        ("POST", "/v1/jobs/{job_id}/cancel"): (f"/v1/jobs/{claimed}/cancel", {}),
        ("POST", "/v1/jobs/{job_id}/resolve"): (
            f"/v1/jobs/{in_review}/resolve",
            {"json": {"outcome": "printed", "card_serial": "KTP00000001"}},
        ),
        ("GET", "/v1/audit"): ("/v1/audit", {}),
        ("GET", "/v1/audit/export"): ("/v1/audit/export", {}),
    }
    assert set(calls) == set(POLICY)

    before = await snapshot(office)
    assert {p["name"]: p["state"] for p in before["printers"]} == {
        "p-registered": "registered",
        "p-ready": "ready",
        "p-paused": "paused",
    }
    denied = 0
    for (method, path), allowed in sorted(POLICY.items()):
        target, kwargs = calls[(method, path)]
        for role, client in office.by_role.items():
            if role not in allowed:
                response = await client.request(method, target, **kwargs)
                assert_problem(response, 403, "forbidden", (role, method, target))
                assert "role " + role in response.json()["detail"], response.json()
                denied += 1
    # clerk, partner and service everywhere; operator at registering, removing and the audit trail
    assert denied == 3 * len(POLICY) + 4
    assert await snapshot(office) == before

    # And the roles allowed get past the check, to the answer of a call made without its data (never a 5xx).
    assert set(WITHOUT_ITS_DATA) == set(POLICY)
    for (method, path), allowed in sorted(POLICY.items()):
        for role in sorted(allowed):
            response = await office.by_role[role].request(method, concrete(path))
            assert_allowed(response, (role, method, path), WITHOUT_ITS_DATA[(method, path)])


async def test_each_role_the_policy_allows_is_served_when_its_call_is_valid(office: InProcessGateway) -> None:
    """Every route, by every role allowed it, on a printer or job of its own in the right state: a 2xx."""
    to_ready = (PrinterLifecycle.COMMISSIONING, PrinterLifecycle.READY)
    registered, ready, paused, leaving, claimed, in_review = {}, {}, {}, {}, {}, {}
    for role in sorted(MANAGE):
        registered[role] = await office.printer(f"{role}-registered")
        ready[role] = await office.printer(f"{role}-ready", to=to_ready)
        paused[role] = await office.printer(f"{role}-paused", to=(*to_ready, PrinterLifecycle.PAUSED))
        leaving[role] = await office.printer(f"{role}-leaving", to=to_ready)
        claimed[role] = await office.job(ready[role])
        in_review[role] = await office.job(
            ready[role], steps=(Step.RESERVED, Step.RENDERED, Step.SENT, Step.PRINTING, Step.UNKNOWN, Step.REVIEW)
        )

    def valid(role: str, method: str, path: str) -> tuple[str, dict[str, Any], int]:
        """The call ``role`` makes on the route: its URL, its body, the status it must get."""
        job = f"/v1/jobs/{in_review['admin']}"
        calls: dict[tuple[str, str], tuple[str, dict[str, Any], int]] = {
            ("POST", "/v1/printers"): (
                "/v1/printers",
                {"json": {"name": f"{role}-new", "url": "socket://127.0.0.1:9"}},
                201,
            ),
            ("GET", "/v1/printers"): ("/v1/printers", {}, 200),
            ("GET", "/v1/printers/{printer_id}"): (f"/v1/printers/{ready['admin']}", {}, 200),
            ("POST", "/v1/printers/{printer_id}/commission"): (
                f"/v1/printers/{registered.get(role)}/commission",
                {},
                202,
            ),
            ("POST", "/v1/printers/{printer_id}/pause"): (f"/v1/printers/{ready.get(role)}/pause", {}, 200),
            ("POST", "/v1/printers/{printer_id}/resume"): (f"/v1/printers/{paused.get(role)}/resume", {}, 200),
            ("DELETE", "/v1/printers/{printer_id}"): (f"/v1/printers/{leaving.get(role)}", {}, 200),
            ("GET", "/v1/jobs"): ("/v1/jobs", {}, 200),
            ("GET", "/v1/jobs/{job_id}"): (job, {}, 200),
            ("GET", "/v1/jobs/{job_id}/preview.png"): (f"{job}/preview.png", {}, 200),
            ("GET", "/v1/requests/{request_id}/preview.png"): (f"/v1/requests/{REQUEST_ID}/preview.png", {}, 200),
            ("POST", "/v1/jobs/{job_id}/cancel"): (f"/v1/jobs/{claimed.get(role)}/cancel", {}, 202),
            ("POST", "/v1/jobs/{job_id}/resolve"): (
                f"/v1/jobs/{in_review.get(role)}/resolve",
                {"json": {"outcome": "printed", "card_serial": "KTP00000001"}},
                200,
            ),
            ("GET", "/v1/audit"): ("/v1/audit", {}, 200),
            ("GET", "/v1/audit/export"): ("/v1/audit/export", {}, 200),
        }
        assert set(calls) == set(POLICY)
        return calls[(method, path)]

    for (method, path), allowed in sorted(POLICY.items()):
        for role in sorted(allowed):
            url, kwargs, status = valid(role, method, path)
            assert_allowed(await office.by_role[role].request(method, url, **kwargs), (role, method, url), status)

    printers = {p["name"]: p["state"] for p in (await office.by_role["admin"].get("/v1/printers")).json()}
    for role in sorted(MANAGE):
        assert (printers[f"{role}-ready"], printers[f"{role}-paused"]) == ("paused", "ready"), printers
    for role in sorted(POLICY[("DELETE", "/v1/printers/{printer_id}")]):
        assert f"{role}-leaving" not in printers  # removed printers are listed only on request


async def test_an_operator_runs_the_fleet_and_jobs_but_only_an_admin_registers_printers_and_reads_the_trail(
    office: InProcessGateway,
) -> None:
    operator, admin = office.by_role["operator"], office.by_role["admin"]
    body = {"name": "back-office", "url": "socket://127.0.0.1:9"}
    assert_problem(await operator.post("/v1/printers", json=body), 403, "forbidden", "operator registers")
    printer = await office.printer("front-desk")
    assert (await operator.get(f"/v1/printers/{printer}")).json()["state"] == "registered"
    assert_problem(await operator.delete(f"/v1/printers/{printer}"), 403, "forbidden", "operator removes")
    assert_problem(await operator.get("/v1/audit"), 403, "forbidden", "operator reads the audit trail")
    audit = (await admin.get("/v1/audit")).json()
    assert [(e["action"], e["actor"], e["object_id"]) for e in audit["items"]] == [
        ("printer.registered", "admin-1", printer)
    ]
    # The previews are the operator's: the card a job holds, and a request's card fetched from the request service.
    job = await office.job(printer, steps=(Step.RESERVED,))
    for path in (f"/v1/jobs/{job}/preview.png", f"/v1/requests/{REQUEST_ID}/preview.png"):
        response = await operator.get(path)
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-type"] == "image/png"
