"""The gateway's audit trail (``GET /v1/audit``, admin only): every change a person makes to the fleet or a job
writes a row — who (subject and role), what, which object, before → after — in the same transaction as the
change, so a refused change leaves none."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from services.gateway.config import Settings
from services.gateway.fleet.states import PrinterLifecycle
from services.gateway.journal.steps import Step
from tests.gateway.conftest import StartEmulator, wait_state
from tests.gateway.in_process import InProcessGateway, open_office
from tests.support import wait_for

TO_REVIEW = (Step.RESERVED, Step.RENDERED, Step.SENT, Step.PRINTING, Step.UNKNOWN, Step.REVIEW)


async def audit(office: InProcessGateway, **filters: str) -> list[dict[str, Any]]:
    """The rows the admin reads, oldest first."""
    response = await office.by_role["admin"].get("/v1/audit", params={"limit": 500, **filters})
    assert response.status_code == 200, response.text
    return list(reversed(response.json()["items"]))


def who_what(rows: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return [(row["actor"], row["actor_role"], row["action"], row["object_type"]) for row in rows]


def states(rows: list[dict[str, Any]]) -> list[tuple[str | None, str | None]]:
    return [((row["before"] or {}).get("state"), (row["after"] or {}).get("state")) for row in rows]


async def test_a_printer_registered_commissioned_paused_resumed_and_removed_leaves_a_row_for_each(
    office: InProcessGateway, start_emulator: StartEmulator
) -> None:
    operator, admin = office.by_role["operator"], office.by_role["admin"]
    async with start_emulator(name="p1") as emu:
        url = emu.url
        assert url is not None
        created = await admin.post("/v1/printers", json={"name": "front-desk", "url": url})
        assert created.status_code == 201, created.text
        pid = created.json()["id"]
        assert (await operator.post(f"/v1/printers/{pid}/commission")).status_code == 202
        await wait_state(operator, pid, "ready")
        assert (await operator.post(f"/v1/printers/{pid}/pause")).json()["state"] == "paused"
        assert (await operator.post(f"/v1/printers/{pid}/resume")).json()["state"] == "ready"
        assert (await admin.delete(f"/v1/printers/{pid}")).json()["state"] == "removed"

    rows = await audit(office, object_id=pid)
    assert who_what(rows) == [
        ("admin-1", "admin", "printer.registered", "printer"),
        ("operator-1", "operator", "printer.commissioning", "printer"),
        ("gateway-commissioning", "service", "printer.commissioned", "printer"),
        ("operator-1", "operator", "printer.paused", "printer"),
        ("operator-1", "operator", "printer.resumed", "printer"),
        ("admin-1", "admin", "printer.removed", "printer"),
    ]
    assert states(rows) == [
        (None, "registered"),
        ("registered", "commissioning"),
        ("commissioning", "ready"),
        ("ready", "paused"),
        ("paused", "ready"),
        ("ready", "removed"),
    ]
    assert rows[0]["before"] is None
    assert (rows[0]["after"]["name"], rows[0]["after"]["url"]) == ("front-desk", url)
    assert all(row["object_id"] == pid for row in rows)
    assert [row["id"] for row in rows] == sorted(row["id"] for row in rows)
    # The trail can be read by who did it and by what was done.
    assert [row["action"] for row in await audit(office, actor="admin-1")] == ["printer.registered", "printer.removed"]
    paused = await audit(office, action="printer.paused", object_type="printer")
    assert [row["object_id"] for row in paused] == [pid]


async def test_cancelling_a_job_records_who_asked_and_at_which_step(office: InProcessGateway) -> None:
    printer = await office.printer("p1", to=(PrinterLifecycle.COMMISSIONING, PrinterLifecycle.READY))
    job = await office.job(printer, steps=(Step.RESERVED,))
    response = await office.by_role["operator"].post(f"/v1/jobs/{job}/cancel")
    assert response.status_code == 202, response.text
    assert response.json()["cancel_requested"] is True

    rows = await audit(office, object_type="job")
    assert who_what(rows) == [("operator-1", "operator", "job.cancel_requested", "job")]
    assert rows[0]["object_id"] == job
    assert rows[0]["after"] == {"step": "reserved"}


@pytest.mark.parametrize(
    ("resolution", "reported"),
    [
        (
            {"outcome": "printed", "card_serial": "KTP00000007", "note": "found in the output hopper"},
            [("/printed", {"card_serial": "KTP00000007"}), ("/consume", {"serial": "KTP00000007"})],
        ),
        (
            {"outcome": "not_printed", "note": "hopper empty, blank still in the feeder"},
            [("/failed", {"card_used": False}), ("/release", {})],
        ),
    ],
)
async def test_resolving_a_job_in_review_records_the_operators_answer(
    office: InProcessGateway, resolution: dict[str, Any], reported: list[tuple[str, dict[str, Any]]]
) -> None:
    printer = await office.printer("p1", to=(PrinterLifecycle.COMMISSIONING, PrinterLifecycle.READY))
    job = await office.job(printer, steps=TO_REVIEW)
    response = await office.by_role["operator"].post(f"/v1/jobs/{job}/resolve", json=resolution)
    assert response.status_code == 200, response.text
    assert (response.json()["step"], response.json()["status"]) == (
        "reported",
        "printed" if resolution["outcome"] == "printed" else "failed",
    )

    rows = await audit(office, object_id=job)
    assert who_what(rows) == [("operator-1", "operator", "job.resolved", "job")]
    assert rows[0]["before"] == {"step": "review"}
    assert rows[0]["after"] == {"card_serial": None, "note": None} | resolution
    # and what the operator said is what the peers were told
    told = [(path, body) for method, path, body in office.peers.calls if method == "POST" and job in path]
    assert len(told) == len(reported)
    for (path, body), (suffix, expected) in zip(told, reported, strict=True):
        assert path.endswith(suffix), told
        assert expected.items() <= (body or {}).items(), (path, body)


async def test_a_refused_change_writes_no_audit_row(office: InProcessGateway) -> None:
    operator, admin = office.by_role["operator"], office.by_role["admin"]
    registered = await office.printer("p1")
    ready = await office.printer("p2", to=(PrinterLifecycle.COMMISSIONING, PrinterLifecycle.READY))
    sent = await office.job(ready, steps=(Step.RESERVED, Step.RENDERED, Step.SENT))
    claimed = await office.job(ready)
    before = await audit(office)
    assert [row["action"] for row in before] == ["printer.registered", "printer.registered"]

    refused = [
        await operator.post(f"/v1/printers/{registered}/resume"),  # registered → ready: commission first
        await operator.post(f"/v1/printers/{registered}/pause"),
        await admin.post("/v1/printers", json={"name": "p1", "url": "socket://127.0.0.1:9"}),  # name taken
        await admin.post("/v1/printers", json={"name": "p3", "url": "spy://loop://"}),  # not a printer URL
        await operator.post("/v1/printers", json={"name": "p4", "url": "socket://127.0.0.1:9"}),  # admin only
        await operator.post(f"/v1/jobs/{sent}/cancel"),  # already told the request service it was sent
        await operator.post(f"/v1/jobs/{claimed}/resolve", json={"outcome": "not_printed"}),  # not in review
        await operator.post("/v1/printers/prn_none/pause"),
    ]
    assert [r.status_code for r in refused] == [409, 409, 409, 422, 403, 409, 409, 404]
    assert await audit(office) == before
    assert office.peers.calls == []


async def test_a_printer_named_in_the_settings_is_registered_in_the_trail_by_the_settings(
    gateway_settings: Callable[..., Settings],
    client_for: Callable[..., httpx.AsyncClient],
    make_token: Callable[..., str],
) -> None:
    settings = gateway_settings(printers="front-desk=socket://127.0.0.1:9")
    async with open_office(settings, client_for, make_token) as office:

        async def back_to_registered() -> bool:  # nobody at that address: commissioning fails
            printers = (await office.by_role["operator"].get("/v1/printers")).json()
            return [(p["name"], p["state"]) for p in printers] == [("front-desk", "registered")]

        await wait_for(back_to_registered, what="commissioning of the configured printer to fail")
        rows = await audit(office, action="printer.registered")
        assert who_what(rows) == [("gateway-settings", "service", "printer.registered", "printer")]
        assert rows[0]["after"]["name"] == "front-desk"
        assert rows[0]["after"]["state"] == "commissioning"
        failed = await audit(office, action="printer.commissioning_failed")
        assert who_what(failed) == [("gateway-commissioning", "service", "printer.commissioning_failed", "printer")]
        assert states(failed) == [("commissioning", "registered")]
