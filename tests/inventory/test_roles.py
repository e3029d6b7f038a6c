"""Who may call what on the inventory (services/inventory/dependencies.py): admin adjusts, approves and cancels;
operator (and admin) receives tranches, records shelf spoilage and drafts and moves proposals; service (the
printer gateway) reserves, consumes, spoils, releases and holds; those three read. Clerks and partners are
denied every route, and nothing but the public ones answers without a token."""

from __future__ import annotations

from typing import Any

import httpx

from services.common.auth import Role
from tests.inventory.conftest import Inventory
from tests.support import PUBLIC_PATHS, app_routes, assert_allowed, concrete

PROBLEM_JSON = "application/problem+json"
NOW = "2026-11-05T03:00:00Z"

READ = frozenset({"admin", "operator", "service"})
OPERATOR = frozenset({"admin", "operator"})
ADMIN = frozenset({"admin"})
SERVICE = frozenset({"service"})

# Every route the app has, with the roles allowed; the walk below fails if a route is added without a line here.
POLICY: dict[tuple[str, str], frozenset[str]] = {
    ("POST", "/v1/tranches"): OPERATOR,
    ("GET", "/v1/tranches"): READ,
    ("GET", "/v1/tranches/{tranche_id}"): READ,
    ("GET", "/v1/stock"): READ,
    ("GET", "/v1/stock/invariant"): READ,
    ("GET", "/v1/serials/{serial}"): READ,
    ("GET", "/v1/movements"): READ,
    ("POST", "/v1/spoilage"): OPERATOR,
    ("POST", "/v1/adjustments"): ADMIN,
    ("POST", "/v1/reservations"): SERVICE,
    ("POST", "/v1/reservations/{job_id}/consume"): SERVICE,
    ("POST", "/v1/reservations/{job_id}/spoil"): SERVICE,
    ("POST", "/v1/reservations/{job_id}/release"): SERVICE,
    ("POST", "/v1/reservations/{job_id}/hold"): SERVICE,
    ("GET", "/v1/reservations"): READ,
    ("GET", "/v1/reservations/{job_id}"): READ,
    ("GET", "/v1/forecast"): READ,
    ("GET", "/v1/proposals"): READ,
    ("POST", "/v1/proposals"): OPERATOR,
    ("GET", "/v1/proposals/{proposal_id}"): READ,
    ("POST", "/v1/proposals/{proposal_id}/submit"): OPERATOR,
    ("POST", "/v1/proposals/{proposal_id}/approve"): ADMIN,
    ("POST", "/v1/proposals/{proposal_id}/ship"): OPERATOR,
    ("POST", "/v1/proposals/{proposal_id}/close"): OPERATOR,
    ("POST", "/v1/proposals/{proposal_id}/cancel"): ADMIN,
    ("GET", "/v1/reports/spoilage"): READ,
    ("GET", "/v1/reports/spoilage/minutes"): READ,
    ("POST", "/v1/returned-cards"): SERVICE,
    ("GET", "/v1/returned-cards"): READ,
    ("GET", "/v1/returned-cards/{serial}"): READ,
    ("POST", "/v1/returned-cards/{serial}/destroy"): OPERATOR,
    ("GET", "/v1/audit"): ADMIN,
    ("GET", "/v1/audit/export"): ADMIN,
}

# What an allowed role is answered when it calls a route with a made-up id and no body or query: the list or the
# balances, else the 404 of an unknown object or the 422 of a missing body or month. Never a 5xx.
WITHOUT_ITS_DATA: dict[tuple[str, str], int] = {
    ("POST", "/v1/tranches"): 422,
    ("GET", "/v1/tranches"): 200,
    ("GET", "/v1/tranches/{tranche_id}"): 404,
    ("GET", "/v1/stock"): 200,
    ("GET", "/v1/stock/invariant"): 200,
    ("GET", "/v1/serials/{serial}"): 404,
    ("GET", "/v1/movements"): 200,
    ("POST", "/v1/spoilage"): 422,
    ("POST", "/v1/adjustments"): 422,
    ("POST", "/v1/reservations"): 422,
    ("POST", "/v1/reservations/{job_id}/consume"): 422,
    ("POST", "/v1/reservations/{job_id}/spoil"): 422,
    ("POST", "/v1/reservations/{job_id}/release"): 404,
    ("POST", "/v1/reservations/{job_id}/hold"): 422,
    ("GET", "/v1/reservations"): 200,
    ("GET", "/v1/reservations/{job_id}"): 404,
    ("GET", "/v1/forecast"): 200,
    ("GET", "/v1/proposals"): 200,
    ("POST", "/v1/proposals"): 422,
    ("GET", "/v1/proposals/{proposal_id}"): 404,
    ("POST", "/v1/proposals/{proposal_id}/submit"): 404,
    ("POST", "/v1/proposals/{proposal_id}/approve"): 404,
    ("POST", "/v1/proposals/{proposal_id}/ship"): 404,
    ("POST", "/v1/proposals/{proposal_id}/close"): 404,
    ("POST", "/v1/proposals/{proposal_id}/cancel"): 404,
    ("GET", "/v1/reports/spoilage"): 422,
    ("GET", "/v1/reports/spoilage/minutes"): 422,
    ("POST", "/v1/returned-cards"): 422,
    ("GET", "/v1/returned-cards"): 200,
    ("GET", "/v1/returned-cards/{serial}"): 404,
    ("POST", "/v1/returned-cards/{serial}/destroy"): 422,
    ("GET", "/v1/audit"): 200,
    ("GET", "/v1/audit/export"): 200,
}

# A well-formed serial no blank and no returned card has (a malformed one is a 422 of the path).
UNKNOWN = {"serial": "KTP99999999"}


async def return_card(inv: Inventory, serial: str, request_id: str) -> None:
    """The request service hands an old card in (role service): it is in custody."""
    body = {"serial": serial, "request_id": request_id, "received_by": "ANI (loket 2)", "received_at": NOW}
    response = await inv.service.post("/v1/returned-cards", json=body)
    assert response.status_code == 201, response.text


async def snapshot(inv: Inventory) -> dict[str, Any]:
    """What a denied call could have changed: the balances, the ledger, the proposals, the returned cards, the
    audit trail."""
    return {
        "stock": await inv.stock(),
        "movements": (await inv.admin.get("/v1/movements")).json()["total"],
        "proposals": [(p["id"], p["state"]) for p in (await inv.admin.get("/v1/proposals")).json()["items"]],
        "returned": (await inv.admin.get("/v1/returned-cards")).json()["items"],
        "audit": (await inv.admin.get("/v1/audit")).json()["total"],
    }


def assert_problem(response: httpx.Response, status: int, kind: str, what: object) -> None:
    assert response.status_code == status, (what, response.status_code, response.text)
    assert response.headers["content-type"].startswith(PROBLEM_JSON), what
    assert response.json()["type"].endswith("/" + kind), (what, response.json())


async def test_the_policy_names_every_route_and_every_role(inv: Inventory) -> None:
    assert app_routes(inv.app) - {(m, p) for m, p in app_routes(inv.app) if p in PUBLIC_PATHS} == set(POLICY)
    assert set(inv.by_role) == {role.value for role in Role}


async def test_every_route_but_the_public_ones_answers_401_without_a_token(inv: Inventory) -> None:
    for method, path in sorted(POLICY):
        response = await inv.anonymous.request(method, concrete(path))
        assert_problem(response, 401, "token-missing", (method, path))
        assert response.headers["www-authenticate"] == "Bearer", (method, path)
    for path in ("/healthz", "/readyz", "/openapi.json", "/docs"):
        assert (await inv.anonymous.get(path)).status_code == 200, path


async def test_each_role_is_denied_every_route_the_policy_does_not_give_it(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000005")
    await return_card(inv, "OLD00000001", "req-1")  # a card in custody: a denied destroy must leave it there
    before = await snapshot(inv)
    denied = 0
    for (method, path), allowed in sorted(POLICY.items()):
        for role, client in inv.by_role.items():
            if role not in allowed:
                url = concrete(path, {"serial": "OLD00000001"})
                assert_problem(await client.request(method, url), 403, "forbidden", (role, method, path))
                denied += 1
    assert denied >= 2 * len(POLICY)  # clerk and partner, everywhere
    assert await snapshot(inv) == before

    # And the allowed ones get past the check, to the answer of a call made without its data (never a 5xx).
    assert set(WITHOUT_ITS_DATA) == set(POLICY)
    for (method, path), allowed in sorted(POLICY.items()):
        for role in sorted(allowed):
            response = await inv.by_role[role].request(method, concrete(path, UNKNOWN))
            assert_allowed(response, (role, method, path), WITHOUT_ITS_DATA[(method, path)])


async def test_each_role_the_policy_allows_is_served_when_its_call_is_valid(inv: Inventory) -> None:
    """Every route, by every role allowed it, with a valid body on an object in the right state: a 2xx."""
    tranche = await inv.receive("TR-1", "KTP00000001", "KTP00000010")
    for job in ("job_consume", "job_spoil", "job_release", "job_hold"):
        assert (await inv.reserve(job)).status_code == 201

    async def proposal(*moves: str) -> str:
        """A proposal drafted by the operator and moved on by the admin through ``moves``."""
        response = await inv.operator.post("/v1/proposals", json={"quantity": 1000})
        assert response.status_code == 201, response.text
        pid = str(response.json()["id"])
        for move in moves:
            assert (await inv.admin.post(f"/v1/proposals/{pid}/{move}")).status_code == 200, move
        return pid

    drafts = {role: await proposal() for role in ("admin", "operator")}
    submitted = await proposal("submit")
    approved = {role: await proposal("submit", "approve") for role in ("admin", "operator")}
    shipped = {role: await proposal("submit", "approve", "ship") for role in ("admin", "operator")}
    to_cancel = await proposal()
    spare = {"admin": "KTP00000008", "operator": "KTP00000009"}  # a blank each for shelf spoilage
    returned = {"admin": "OLD00000001", "operator": "OLD00000002"}  # an old card each in custody, to destroy
    for role, serial in returned.items():
        await return_card(inv, serial, f"req-{role}")

    def valid(role: str, method: str, path: str) -> tuple[str, dict[str, Any], int]:
        """The call ``role`` makes on the route: its URL, its body or query, the status it must get."""
        month = {"params": {"month": "2026-12"}}
        calls: dict[tuple[str, str], tuple[str, dict[str, Any], int]] = {
            ("POST", "/v1/tranches"): (
                "/v1/tranches",
                {
                    "json": {
                        "reference": f"TR-{role}",
                        "received_on": "2026-11-02",
                        "ranges": [{"first": f"KTP1{len(role):07d}", "last": f"KTP1{len(role):07d}"}],
                        "received_by": "Siti (gudang)",
                    }
                },
                201,
            ),
            ("GET", "/v1/tranches"): ("/v1/tranches", {}, 200),
            ("GET", "/v1/tranches/{tranche_id}"): (f"/v1/tranches/{tranche['id']}", {}, 200),
            ("GET", "/v1/stock"): ("/v1/stock", {}, 200),
            ("GET", "/v1/stock/invariant"): ("/v1/stock/invariant", {}, 200),
            ("GET", "/v1/serials/{serial}"): ("/v1/serials/KTP00000001", {}, 200),
            ("GET", "/v1/movements"): ("/v1/movements", {}, 200),
            ("POST", "/v1/spoilage"): (
                "/v1/spoilage",
                {"json": {"serial": spare.get(role), "reason": "damaged", "witness": "Ani"}},
                201,
            ),
            ("POST", "/v1/adjustments"): (
                "/v1/adjustments",
                {"json": {"serial": "KTP00000010", "action": "write_off", "reason": "missing at stock take"}},
                201,
            ),
            ("POST", "/v1/reservations"): (
                "/v1/reservations",
                {"json": {"job_id": "job_new", "urgent": False, "ttl_seconds": 600}},
                201,
            ),
            ("POST", "/v1/reservations/{job_id}/consume"): (
                "/v1/reservations/job_consume/consume",
                {"json": {"serial": "KTP00000001", "request_id": "req-1", "printer_id": "printer-1"}},
                200,
            ),
            ("POST", "/v1/reservations/{job_id}/spoil"): (
                "/v1/reservations/job_spoil/spoil",
                {"json": {"serial": "KTP00000002", "reason": "failed_print", "witness": "Budi", "printer_id": "p-1"}},
                200,
            ),
            ("POST", "/v1/reservations/{job_id}/release"): ("/v1/reservations/job_release/release", {"json": {}}, 200),
            ("POST", "/v1/reservations/{job_id}/hold"): (
                "/v1/reservations/job_hold/hold",
                {"json": {"reason": "power lost mid-card"}},
                200,
            ),
            ("GET", "/v1/reservations"): ("/v1/reservations", {}, 200),
            ("GET", "/v1/reservations/{job_id}"): ("/v1/reservations/job_hold", {}, 200),
            ("GET", "/v1/forecast"): ("/v1/forecast", {}, 200),
            ("GET", "/v1/proposals"): ("/v1/proposals", {}, 200),
            ("POST", "/v1/proposals"): ("/v1/proposals", {"json": {"quantity": 500, "note": role}}, 201),
            ("GET", "/v1/proposals/{proposal_id}"): (f"/v1/proposals/{submitted}", {}, 200),
            ("POST", "/v1/proposals/{proposal_id}/submit"): (f"/v1/proposals/{drafts.get(role)}/submit", {}, 200),
            ("POST", "/v1/proposals/{proposal_id}/approve"): (f"/v1/proposals/{submitted}/approve", {}, 200),
            ("POST", "/v1/proposals/{proposal_id}/ship"): (f"/v1/proposals/{approved.get(role)}/ship", {}, 200),
            ("POST", "/v1/proposals/{proposal_id}/close"): (f"/v1/proposals/{shipped.get(role)}/close", {}, 200),
            ("POST", "/v1/proposals/{proposal_id}/cancel"): (f"/v1/proposals/{to_cancel}/cancel", {}, 200),
            ("GET", "/v1/reports/spoilage"): ("/v1/reports/spoilage", month, 200),
            ("GET", "/v1/reports/spoilage/minutes"): ("/v1/reports/spoilage/minutes", month, 200),
            ("POST", "/v1/returned-cards"): (
                "/v1/returned-cards",
                {"json": {"serial": "OLD00000003", "request_id": "req-3", "received_by": "ANI", "received_at": NOW}},
                201,
            ),
            ("GET", "/v1/returned-cards"): ("/v1/returned-cards", {"params": {"state": "in_custody"}}, 200),
            ("GET", "/v1/returned-cards/{serial}"): ("/v1/returned-cards/OLD00000001", {}, 200),
            ("POST", "/v1/returned-cards/{serial}/destroy"): (
                f"/v1/returned-cards/{returned.get(role)}/destroy",
                {"json": {"witness": "BUDI (saksi)"}},
                200,
            ),
            ("GET", "/v1/audit"): ("/v1/audit", {}, 200),
            ("GET", "/v1/audit/export"): ("/v1/audit/export", {}, 200),
        }
        assert set(calls) == set(POLICY)
        return calls[(method, path)]

    served = 0
    for (method, path), allowed in sorted(POLICY.items()):
        for role in sorted(allowed):
            url, kwargs, status = valid(role, method, path)
            assert_allowed(await inv.by_role[role].request(method, url, **kwargs), (role, method, url), status)
            served += 1
    assert served == sum(len(allowed) for allowed in POLICY.values())
    stock = await inv.stock()
    assert (stock["received"], stock["consumed"], stock["spoiled"], stock["written_off"]) == (12, 1, 3, 1)
    custody = {c["serial"]: c["state"] for c in (await inv.admin.get("/v1/returned-cards")).json()["items"]}
    assert custody == {"OLD00000001": "destroyed", "OLD00000002": "destroyed", "OLD00000003": "in_custody"}


async def test_shelf_spoilage_and_adjustments_are_refused_to_the_service_and_clerks(inv: Inventory) -> None:
    await inv.receive("TR-1", "KTP00000001", "KTP00000005")
    spoilage = {"serial": "KTP00000001", "reason": "damaged", "witness": "Ani"}
    adjustment = {"serial": "KTP00000002", "action": "write_off", "reason": "missing at stock take"}
    before = await snapshot(inv)
    for role in ("service", "clerk", "partner"):
        client = inv.by_role[role]
        assert_problem(await client.post("/v1/spoilage", json=spoilage), 403, "forbidden", (role, "spoilage"))
        assert_problem(await client.post("/v1/adjustments", json=adjustment), 403, "forbidden", (role, "adjust"))
    operator = await inv.operator.post("/v1/adjustments", json=adjustment)
    assert_problem(operator, 403, "forbidden", "operator adjusts")
    assert await snapshot(inv) == before

    assert (await inv.operator.post("/v1/spoilage", json=spoilage)).status_code == 201
    assert (await inv.admin.post("/v1/adjustments", json=adjustment)).status_code == 201
    stock = await inv.stock()
    assert (stock["available"], stock["spoiled"]) == (3, 1)


async def test_only_an_admin_approves_or_cancels_a_proposal_and_clerks_and_the_service_draft_none(
    inv: Inventory,
) -> None:
    for role in ("service", "clerk", "partner"):
        response = await inv.by_role[role].post("/v1/proposals", json={"quantity": 1000})
        assert_problem(response, 403, "forbidden", (role, "draft"))
    assert (await inv.admin.get("/v1/proposals")).json()["total"] == 0

    pid = (await inv.operator.post("/v1/proposals", json={"quantity": 1000})).json()["id"]
    assert (await inv.operator.post(f"/v1/proposals/{pid}/submit")).status_code == 200
    for role in ("operator", "service", "clerk", "partner"):
        for action in ("approve", "cancel"):
            response = await inv.by_role[role].post(f"/v1/proposals/{pid}/{action}", json={"note": "ok"})
            assert_problem(response, 403, "forbidden", (role, action))
    assert (await inv.admin.get(f"/v1/proposals/{pid}")).json()["state"] == "submitted"

    assert (await inv.admin.post(f"/v1/proposals/{pid}/approve")).json()["state"] == "approved"
    assert (await inv.admin.post(f"/v1/proposals/{pid}/cancel")).json()["state"] == "cancelled"
    actions = [e["action"] for e in (await inv.admin.get("/v1/audit", params={"object_id": pid})).json()["items"]]
    assert actions == ["proposal.cancelled", "proposal.approved", "proposal.submitted", "proposal.drafted"]
