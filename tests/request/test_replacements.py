"""Card registry and replacements through HTTP: a printed card's serial and status, a damaged, lost or wrong card
replaced by a new request linked to the old one, and the old card surrendered into the inventory's custody (the
real inventory app, mounted in-process)."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from services.common.auth import KeyPair
from services.inventory.app import create_app as create_inventory
from services.inventory.config import Settings as InventorySettings
from services.request.app import create_app
from services.request.config import Settings
from tests.factories import CATALOG, PHOTO, request_body
from tests.request.conftest import InProcessRequestService
from tests.support import running


class Desk(InProcessRequestService):
    """The request service with the inventory behind it, and clients of both."""

    inventory: httpx.AsyncClient


@pytest.fixture
def open_desk(
    request_settings: Callable[..., Settings],
    migrated_db: Callable[[str], str],
    keys: KeyPair,
    make_token: Callable[..., str],
    client_for: Callable[..., httpx.AsyncClient],
) -> Callable[..., contextlib.AbstractAsyncContextManager[Desk]]:
    @contextlib.asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Desk]:
        inventory_app = create_inventory(
            InventorySettings(
                database_url=migrated_db("inventory"),
                jwt_public_key=keys.public_pem.decode(),
                start_sweeper=False,
                request_url="http://127.0.0.1:9",
            )
        )
        settings = request_settings(service_token=make_token("service", subject="request-service"), **overrides)
        app = create_app(settings, inventory_transport=httpx.ASGITransport(app=inventory_app))
        async with running(inventory_app), running(app):
            desk = Desk(app, make_token, client_for)
            desk.inventory = client_for(inventory_app, make_token("operator", subject="gudang-1"))
            try:
                yield desk
            finally:
                await desk.inventory.aclose()
                await desk.close()

    return start


@pytest.fixture
async def desk(open_desk: Callable[..., contextlib.AbstractAsyncContextManager[Desk]]) -> AsyncIterator[Desk]:
    async with open_desk() as running_desk:
        yield running_desk


async def submit(client: httpx.AsyncClient, serial: int = 1, **kw: Any) -> str:
    response = await client.post("/v1/requests", json=request_body(serial, **kw))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def print_next(desk: Desk, job: str, card_serial: str) -> dict[str, Any]:
    """The gateway claims the next queued request and reports it printed as ``card_serial``: the claim."""
    gateway = desk.as_("service", subject="gateway-1")
    claim = await gateway.post("/v1/queue/claims", json={"job_id": job, "printer_id": "printer-1"})
    assert claim.status_code == 201, claim.text
    printed = await gateway.post(f"/v1/queue/claims/{job}/printed", json={"card_serial": card_serial})
    assert printed.json()["status"] == "printed", printed.text
    return dict(claim.json())


async def printed_request(desk: Desk, serial: int = 1, card_serial: str = "KTP00000001", **kw: Any) -> str:
    request_id = await submit(desk.as_("operator"), serial, **kw)
    assert (await print_next(desk, f"job_{card_serial}", card_serial))["request_id"] == request_id
    return request_id


def field_errors(response: httpx.Response) -> list[str]:
    return [e["field"] for e in response.json().get("errors", [])]


async def test_a_damaged_card_is_replaced_and_its_serial_is_invalid_until_destroyed_in_custody(desk: Desk) -> None:
    operator, admin = desk.as_("operator"), desk.as_("admin")
    old = await printed_request(desk)
    card = (await operator.get("/v1/cards/KTP00000001")).json()
    assert (card["status"], card["valid"], card["request_id"]) == ("printed", True, old)

    replaced = await operator.post(
        f"/v1/requests/{old}/replacements", json={"reason": "damaged", "note": "cracked at the lamination"}
    )

    assert replaced.status_code == 201, replaced.text
    new = replaced.json()
    assert replaced.headers["location"] == f"/v1/requests/{new['id']}"
    assert (new["status"], new["replaces"], new["reason"], new["priority"]) == (
        "queued",
        old,
        "damaged_card",
        "regular",
    )
    old_now = (await operator.get(f"/v1/requests/{old}")).json()
    assert (old_now["status"], old_now["replaced_by"]) == ("replaced", new["id"])
    card = (await operator.get("/v1/cards/KTP00000001")).json()
    assert (card["status"], card["valid"], card["replaced_by_request_id"]) == ("damaged", False, new["id"])

    # The replacement is printed from the resident's data, the old photo reused.
    claim = await print_next(desk, "job_again", "KTP00000002")
    assert claim["request_id"] == new["id"]
    assert (claim["card"]["nik"], claim["card"]["photo"]) == (old_now["card"]["nik"], PHOTO)
    assert (await operator.get("/v1/cards/KTP00000001")).json()["replaced_by_serial"] == "KTP00000002"
    assert (await operator.get("/v1/cards/KTP00000002")).json()["status"] == "printed"

    # The old card is handed in: surrendered here, in the inventory's custody there (a retry changes nothing).
    surrender = {"received_by": "ANI (loket 2)", "note": "brought back by the resident"}
    first = await operator.post("/v1/cards/KTP00000001/surrender", json=surrender)
    again = await operator.post("/v1/cards/KTP00000001/surrender", json=surrender)
    assert first.status_code == again.status_code == 200, (first.text, again.text)
    assert (first.json()["status"], first.json()["surrender_received_by"]) == ("surrendered", "ANI (loket 2)")
    custody = await desk.inventory.get("/v1/returned-cards", params={"state": "in_custody"})
    assert [(c["serial"], c["request_id"], c["received_by"]) for c in custody.json()["items"]] == [
        ("KTP00000001", old, "ANI (loket 2)")
    ]

    destroyed = await desk.inventory.post("/v1/returned-cards/KTP00000001/destroy", json={"witness": "BUDI (saksi)"})
    assert destroyed.status_code == 200, destroyed.text
    month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    minutes = await desk.inventory.get("/v1/reports/spoilage/minutes", params={"month": month})
    assert "KTP00000001" in minutes.text
    assert "BUDI (saksi)" in minutes.text
    assert "ANI (loket 2)" in minutes.text

    # The card's history is in the audit trail.
    history = await admin.get("/v1/audit", params={"object_type": "card", "object_id": "KTP00000001"})
    assert [e["action"] for e in reversed(history.json()["items"])] == [
        "card.registered",
        "card.damaged",
        "card.surrendered",
    ]


async def test_a_second_active_request_for_the_nik_outside_the_chain_is_still_refused(desk: Desk) -> None:
    operator = desk.as_("operator")
    old = await printed_request(desk)
    new = (await operator.post(f"/v1/requests/{old}/replacements", json={"reason": "damaged"})).json()

    duplicate = await operator.post("/v1/requests", json=request_body(1, reason="lost_card"))
    twice = await operator.post(f"/v1/requests/{old}/replacements", json={"reason": "damaged"})

    assert duplicate.status_code == 409
    assert (duplicate.json()["type"].rsplit("/", 1)[-1], duplicate.json()["existing_request_id"]) == (
        "duplicate-nik",
        new["id"],
    )
    assert twice.status_code == 409
    assert twice.json()["type"].endswith("/invalid-transition")
    listed = await operator.get("/v1/requests", params={"nik": request_body(1)["nik"], "purpose": "pelayanan"})
    assert sorted(r["status"] for r in listed.json()["items"]) == ["queued", "replaced"]


async def test_a_queued_request_cannot_be_replaced(desk: Desk) -> None:
    operator = desk.as_("operator")
    queued = await submit(operator)

    response = await operator.post(f"/v1/requests/{queued}/replacements", json={"reason": "damaged"})

    assert response.status_code == 409
    assert response.json()["type"].endswith("/invalid-transition")
    assert (response.json()["current"], response.json()["target"]) == ("queued", "replaced")
    assert (await operator.get(f"/v1/requests/{queued}")).json()["status"] == "queued"


async def test_a_lost_card_needs_a_police_report_and_is_invalid_at_once(desk: Desk) -> None:
    operator = desk.as_("operator")
    old = await printed_request(desk)
    assert (await operator.post(f"/v1/requests/{old}/activate", json={"card_serial": "KTP00000001"})).is_success
    handover = await operator.post(f"/v1/requests/{old}/handover", json={"received_by": "BUDI SANTOSO"})
    assert handover.json()["status"] == "collected"
    assert (await operator.get("/v1/cards/KTP00000001")).json()["status"] == "collected"

    missing = await operator.post(f"/v1/requests/{old}/replacements", json={"reason": "lost"})
    assert missing.status_code == 422
    assert field_errors(missing) == ["police_report"]
    assert (await operator.get("/v1/cards/KTP00000001")).json()["valid"] is True

    lost = await operator.post(
        f"/v1/requests/{old}/replacements", json={"reason": "lost", "police_report": "STPL/123/XI/2026/POLSEK GT"}
    )
    assert lost.status_code == 201, lost.text
    assert lost.json()["reason"] == "lost_card"
    card = (await operator.get("/v1/cards/KTP00000001")).json()
    assert (card["status"], card["valid"], card["police_report"]) == ("lost", False, "STPL/123/XI/2026/POLSEK GT")


async def test_the_police_report_may_be_made_optional(open_desk: Callable[..., Any]) -> None:
    async with open_desk(lost_card_police_report_required=False) as desk:
        old = await printed_request(desk)
        lost = await desk.as_("operator").post(f"/v1/requests/{old}/replacements", json={"reason": "lost"})
        assert lost.status_code == 201, lost.text


async def test_a_data_change_is_checked_like_a_new_request_and_keeps_before_and_after(desk: Desk) -> None:
    operator, admin = desk.as_("operator"), desk.as_("admin")
    old = await printed_request(desk)
    other_kecamatan_village = CATALOG.kecamatan["18.09.02"].villages[0]

    for changes, field in (
        ({"village_code": other_kecamatan_village}, "changes.village_code"),
        ({"rt": "1"}, "changes.rt"),
        ({"birth_date": "1991-05-17"}, "changes.birth_date"),
        ({"nik": request_body(2)["nik"]}, "changes.nik"),
    ):
        refused = await operator.post(
            f"/v1/requests/{old}/replacements", json={"reason": "data_change", "changes": changes}
        )
        assert refused.status_code == 422, (changes, refused.text)
        assert field in field_errors(refused), (changes, refused.json())
    no_changes = await operator.post(f"/v1/requests/{old}/replacements", json={"reason": "data_change"})
    assert field_errors(no_changes) == ["changes"]
    assert (await operator.get(f"/v1/requests/{old}")).json()["status"] == "printed"  # nothing happened

    changed = await operator.post(
        f"/v1/requests/{old}/replacements",
        json={"reason": "data_change", "changes": {"address": "jl. baru no. 7", "occupation": "WIRASWASTA"}},
    )

    assert changed.status_code == 201, changed.text
    card = changed.json()["card"]
    assert (card["address"], card["occupation"], card["name"]) == ("JL. BARU NO. 7", "WIRASWASTA", "BUDI SANTOSO")
    assert changed.json()["reason"] == "data_correction"
    assert (await operator.get("/v1/cards/KTP00000001")).json()["status"] == "replaced"
    audit = await admin.get("/v1/audit", params={"object_id": old, "action": "request.replaced"})
    after = audit.json()["items"][0]["after"]
    assert after["changes"] == {
        "address": {"before": "JL. RAYA GEDONG TATAAN NO. 5", "after": "JL. BARU NO. 7"},
        "occupation": {"before": "PETANI/PEKEBUN", "after": "WIRASWASTA"},
    }
    assert after["replaced_by"] == changed.json()["id"]


async def test_an_urgent_card_damaged_before_it_left_the_office_stays_urgent(desk: Desk) -> None:
    old = await printed_request(desk, reason="health")
    new = await desk.as_("operator").post(f"/v1/requests/{old}/replacements", json={"reason": "damaged"})
    assert (new.json()["priority"], new.json()["reason"]) == ("urgent", "health")


async def test_a_replacement_is_idempotent_with_the_same_key(desk: Desk) -> None:
    operator = desk.as_("operator")
    old = await printed_request(desk)
    headers = {"Idempotency-Key": "replace-1"}

    first = await operator.post(f"/v1/requests/{old}/replacements", json={"reason": "damaged"}, headers=headers)
    again = await operator.post(f"/v1/requests/{old}/replacements", json={"reason": "damaged"}, headers=headers)

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers.get("idempotent-replayed") == "true"


async def test_clerks_partners_and_the_gateway_may_not_replace_or_surrender_a_card(desk: Desk) -> None:
    old = await printed_request(desk)
    callers = {
        "clerk": desk.as_("clerk", scope=["18.09.01"]),
        "partner": desk.as_("partner", subject="partner-test"),
        "service": desk.as_("service"),
    }
    for role, client in callers.items():
        response = await client.post(f"/v1/requests/{old}/replacements", json={"reason": "damaged"})
        assert response.status_code == 403, (role, response.text)
        surrender = await client.post("/v1/cards/KTP00000001/surrender", json={"received_by": "X"})
        assert surrender.status_code == 403, (role, surrender.text)
    for role in ("clerk", "partner"):
        assert (await callers[role].get("/v1/cards/KTP00000001")).status_code == 403, role
    card = (await desk.as_("operator").get("/v1/cards/KTP00000001")).json()
    assert (card["status"], card["valid"]) == ("printed", True)


async def test_only_an_invalid_card_is_surrendered(desk: Desk) -> None:
    operator = desk.as_("operator")
    await printed_request(desk)

    valid = await operator.post("/v1/cards/KTP00000001/surrender", json={"received_by": "ANI"})
    unknown = await operator.post("/v1/cards/KTP09999999/surrender", json={"received_by": "ANI"})

    assert valid.status_code == 409
    assert valid.json()["type"].endswith("/invalid-transition")
    assert unknown.status_code == 404
    assert (await desk.inventory.get("/v1/returned-cards")).json()["total"] == 0
