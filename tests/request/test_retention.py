"""The retention purge: photos and signatures emptied ``retention_days`` after a request ended, the rest kept.

Time moves through the service's clock (``office.pin_clock``): the hand-over, the cancellation and the purge
each read it, so a test says when each happened and runs the purge as the background loop would.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
from sqlalchemy import select

from services.request.models import PrintRequest
from services.request.privacy.retention import purge_once
from tests.factories import request_body
from tests.request.conftest import OFFICE_NOW, InProcessRequestService
from tests.support import wait_for

DAY = dt.timedelta(days=1)


async def _queued(office: InProcessRequestService, n: int) -> str:
    response = await office.as_("operator").post("/v1/requests", json=request_body(n))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _printed(office: InProcessRequestService, n: int) -> str:
    """Request ``n`` queued, claimed by the gateway and printed with serial ``KTP<n>``."""
    request_id = await _queued(office, n)
    gateway = office.as_("service")
    claim = await gateway.post("/v1/queue/claims", json={"job_id": f"job_{n}", "printer_id": "p1"})
    assert claim.json()["request_id"] == request_id
    printed = await gateway.post(f"/v1/queue/claims/job_{n}/printed", json={"card_serial": f"KTP{n:08d}"})
    assert printed.status_code == 200, printed.text
    return request_id


async def _collected(office: InProcessRequestService, n: int, *, at: dt.datetime) -> str:
    """Request ``n`` printed, activated and handed over to the resident at ``at``."""
    request_id = await _printed(office, n)
    operator = office.as_("operator")
    activated = await operator.post(f"/v1/requests/{request_id}/activate", json={"card_serial": f"KTP{n:08d}"})
    assert activated.status_code == 200, activated.text
    office.pin_clock(at)
    handed = await operator.post(f"/v1/requests/{request_id}/handover", json={"received_by": "BUDI SANTOSO"})
    assert handed.json()["status"] == "collected", handed.text
    return request_id


async def _purge(office: InProcessRequestService, *, at: dt.datetime) -> int:
    office.pin_clock(at)
    return await purge_once(office.app.state.db, office.app.state.context)


async def _stored(office: InProcessRequestService, request_id: str) -> dict[str, Any]:
    """The row as the database holds it: images (as stored: sealed or not), key and purge time."""
    async with office.app.state.db.read_sessions() as session:
        row = (
            await session.execute(
                select(
                    PrintRequest.photo, PrintRequest.signature, PrintRequest.data_key_id, PrintRequest.images_purged_at
                ).where(PrintRequest.id == request_id)
            )
        ).one()
    return {"photo": row[0], "signature": row[1], "data_key_id": row[2], "images_purged_at": row[3]}


async def _purge_audit(office: InProcessRequestService) -> list[dict[str, Any]]:
    response = await office.as_("admin").get("/v1/audit", params={"action": "privacy.images_purged"})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_card_handed_over_past_the_window_loses_its_images_yet_the_office_still_reads_its_record(
    office: InProcessRequestService,
) -> None:
    handed_over = OFFICE_NOW
    old = await _collected(office, 1, at=handed_over)
    recent = await _collected(office, 2, at=handed_over + 10 * DAY)
    active = await _queued(office, 3)

    assert await _purge(office, at=handed_over + 31 * DAY) == 1

    purged = await _stored(office, old)
    assert (purged["photo"], purged["signature"], purged["data_key_id"]) == (b"", b"", None)
    assert purged["images_purged_at"] == handed_over + 31 * DAY
    for kept in (recent, active):
        stored = await _stored(office, kept)
        assert stored["photo"] != b""
        assert stored["signature"] != b""
        assert stored["images_purged_at"] is None

    record = await office.as_("operator").get(f"/v1/requests/{old}")
    assert record.status_code == 200, record.text
    body = record.json()
    assert (body["status"], body["card_serial"]) == ("collected", "KTP00000001")
    assert (body["card"]["nik"], body["card"]["name"]) == (request_body(1)["nik"], request_body(1)["name"])
    assert body["collected_at"] is not None

    [row] = await _purge_audit(office)
    assert (row["actor"], row["actor_role"]) == ("retention-purge", "service")
    assert row["after"]["purged"] == 1
    assert row["after"]["retention_days"] == 30


async def test_an_active_request_is_never_purged_however_old(office: InProcessRequestService) -> None:
    printed = await _printed(office, 1)  # printed, not yet activated nor handed over
    queued = await _queued(office, 2)

    assert await _purge(office, at=OFFICE_NOW + 3650 * DAY) == 0

    for request_id in (printed, queued):
        stored = await _stored(office, request_id)
        assert stored["photo"] != b""
        assert stored["images_purged_at"] is None
    assert await _purge_audit(office) == []  # nothing purged: no row


async def test_a_cancelled_request_past_the_window_is_purged_and_a_second_run_finds_nothing_more(
    office: InProcessRequestService,
) -> None:
    request_id = await _queued(office, 1)
    office.pin_clock(OFFICE_NOW)
    cancelled = await office.as_("operator").post(f"/v1/requests/{request_id}/cancel")
    assert cancelled.json()["status"] == "cancelled", cancelled.text

    assert await _purge(office, at=OFFICE_NOW + 29 * DAY) == 0
    assert await _purge(office, at=OFFICE_NOW + 30 * DAY) == 1
    assert await _purge(office, at=OFFICE_NOW + 60 * DAY) == 0

    stored = await _stored(office, request_id)
    assert (stored["photo"], stored["signature"]) == (b"", b"")
    assert stored["images_purged_at"] == OFFICE_NOW + 30 * DAY
    assert (await office.as_("operator").get(f"/v1/requests/{request_id}")).json()["status"] == "cancelled"
    assert [row["after"]["purged"] for row in await _purge_audit(office)] == [1]


async def test_with_zero_days_the_images_go_at_the_first_run_after_the_hand_over(open_office: Any) -> None:
    async with open_office(retention_days=0) as office:
        request_id = await _collected(office, 1, at=OFFICE_NOW)
        assert await _purge(office, at=OFFICE_NOW) == 1
        assert (await _stored(office, request_id))["photo"] == b""


async def test_the_purge_runs_at_start_as_a_background_loop(open_office: Any) -> None:
    async with open_office() as office:
        request_id = await _collected(office, 1, at=dt.datetime.now(dt.UTC) - 40 * DAY)
    # The next start of the service purges before anyone asks (its clock is the real one again).
    async with open_office() as office:
        client: httpx.AsyncClient = office.as_("operator")

        async def purged() -> bool:
            return (await _stored(office, request_id))["images_purged_at"] is not None

        await wait_for(purged, what="the purge at start")
        assert (await client.get(f"/v1/requests/{request_id}")).status_code == 200
