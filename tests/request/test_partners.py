"""Partner systems: registered by an admin, tokens by client credentials, suspended at once, their own requests
only, their rate limit; and their webhooks, signed per the Standard Webhooks spec, arriving in order at a real
HTTP receiver that verifies them with the ``standardwebhooks`` library, through a receiver that was down."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.auth import generate_key_pair
from tests.factories import request_body
from tests.request.conftest import InProcessRequestService
from tests.support import wait_for
from tests.webhook_receiver import WebhookReceiver

PARTNER = {"name": "RSUD Pesawaran — loket BPJS", "contact": "it@rsud.example", "allowed_reasons": ["health"]}


@pytest.fixture
async def desk(open_office: Callable[..., Any], tmp_path: Path) -> AsyncIterator[InProcessRequestService]:
    pair = generate_key_pair()
    private, public = tmp_path / "staff-private.pem", tmp_path / "staff-public.pem"
    private.write_bytes(pair.private_pem)
    public.write_bytes(pair.public_pem)
    settings = {"staff_private_key_file": private, "staff_public_key_file": public,
                "webhook_poll_seconds": 0.05, "webhook_backoff_seconds": 0.2}  # fmt: skip
    async with open_office(**settings) as office:
        yield office


async def register(office: InProcessRequestService, **fields: Any) -> dict[str, Any]:
    made = await office.as_("admin").post("/v1/partners", json={**PARTNER, **fields})
    assert made.status_code == 201, made.text
    return dict(made.json())


async def token(office: InProcessRequestService, client_id: str, secret: str, *, basic: bool = False) -> httpx.Response:
    form = {"grant_type": "client_credentials"}
    headers = {}
    if basic:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    else:
        form |= {"client_id": client_id, "client_secret": secret}
    return await office.anonymous().post("/v1/auth/token", data=form, headers=headers)


def as_partner(office: InProcessRequestService, access_token: str) -> httpx.AsyncClient:
    client = office.anonymous()
    client.headers["Authorization"] = f"Bearer {access_token}"
    return client


async def partner_client(office: InProcessRequestService, partner: dict[str, Any]) -> httpx.AsyncClient:
    answer = await token(office, partner["client_id"], partner["client_secret"])
    assert answer.status_code == 200, answer.text
    return as_partner(office, answer.json()["access_token"])


async def test_a_registered_partner_gets_a_token_by_client_credentials_and_submits_what_it_is_allowed(
    desk: InProcessRequestService,
) -> None:
    partner = await register(desk, allowed_kecamatan=["18.09.01"])
    assert (partner["client_secret"][:4], partner["webhook_secret"][:6]) == ("pcs_", "whsec_")
    listed = (await desk.as_("admin").get(f"/v1/partners/{partner['client_id']}")).json()
    assert {"client_secret", "webhook_secret"}.isdisjoint(listed)  # shown once only

    by_form = await token(desk, partner["client_id"], partner["client_secret"])
    by_basic = await token(desk, partner["client_id"], partner["client_secret"], basic=True)
    assert (by_form.status_code, by_basic.status_code) == (200, 200)
    assert by_form.headers["cache-control"] == "no-store"
    assert (by_form.json()["token_type"], by_form.json()["expires_in"]) == ("bearer", 3600)
    wrong = await token(desk, partner["client_id"], "pcs_not-the-secret")
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_client")

    hospital = as_partner(desk, by_form.json()["access_token"])
    made = await hospital.post("/v1/requests", json=request_body(1, reason="health", channel="partner"))
    assert made.status_code == 201, made.text
    assert made.json()["submitted_by"] == partner["client_id"]
    other_reason = await hospital.post("/v1/requests", json=request_body(2, reason="education", channel="partner"))
    assert (other_reason.status_code, other_reason.json()["type"].rsplit("/", 1)[-1]) == (403, "reason-not-allowed")
    elsewhere = request_body(3, reason="health", channel="partner", kecamatan="18.09.02")
    assert (await hospital.post("/v1/requests", json=elsewhere)).status_code == 403


async def test_a_suspended_partners_token_stops_at_once_and_a_rotated_secret_overlaps(
    desk: InProcessRequestService,
) -> None:
    partner = await register(desk)
    hospital = await partner_client(desk, partner)
    assert (await hospital.get("/v1/requests")).status_code == 200
    admin = desk.as_("admin")
    suspended = await admin.patch(f"/v1/partners/{partner['client_id']}", json={"status": "suspended"})
    assert suspended.json()["status"] == "suspended"
    refused = await hospital.get("/v1/requests")
    assert refused.status_code == 401
    assert refused.json()["type"].endswith("partner-suspended")
    assert (await token(desk, partner["client_id"], partner["client_secret"])).status_code == 400
    await admin.patch(f"/v1/partners/{partner['client_id']}", json={"status": "active"})
    assert (await hospital.get("/v1/requests")).status_code == 200

    rotated = await admin.post(
        f"/v1/partners/{partner['client_id']}/secrets", json={"kind": "client", "overlap_hours": 1}
    )
    assert rotated.status_code == 201
    new_secret = rotated.json()["secret"]
    assert (await token(desk, partner["client_id"], partner["client_secret"])).status_code == 200  # the overlap
    assert (await token(desk, partner["client_id"], new_secret)).status_code == 200
    again = await admin.post(
        f"/v1/partners/{partner['client_id']}/secrets", json={"kind": "client", "overlap_hours": 0}
    )
    assert (await token(desk, partner["client_id"], new_secret)).status_code == 400  # no overlap asked: gone
    assert (await token(desk, partner["client_id"], again.json()["secret"])).status_code == 200


async def test_a_partner_reads_and_lists_only_its_own_requests_within_its_rate_limit(
    desk: InProcessRequestService,
) -> None:
    first, second = await register(desk, rate_limit_per_minute=8), await register(desk, name="Universitas Lampung")
    a, b = await partner_client(desk, first), await partner_client(desk, second)
    mine = (await a.post("/v1/requests", json=request_body(11, reason="health", channel="partner"))).json()["id"]
    theirs = (await b.post("/v1/requests", json=request_body(12, reason="health", channel="partner"))).json()["id"]
    assert [r["id"] for r in (await a.get("/v1/requests")).json()["items"]] == [mine]
    assert (await a.get(f"/v1/requests/{theirs}")).status_code in (403, 404)
    answers = [(await a.get("/v1/requests")).status_code for _ in range(8)]
    assert 429 in answers
    limited = await a.get("/v1/requests")
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) >= 1
    assert (await b.get("/v1/requests")).status_code == 200  # the other partner is not slowed


async def test_webhooks_arrive_signed_in_order_through_a_receiver_that_was_down(
    desk: InProcessRequestService, receiver: WebhookReceiver
) -> None:
    partner = await register(desk, callback_url=receiver.url)
    receiver.secrets.append(partner["webhook_secret"])
    hospital, gateway = await partner_client(desk, partner), desk.as_("service")
    request_id = (
        await hospital.post("/v1/requests", json=request_body(21, reason="health", channel="partner"))
    ).json()["id"]
    await wait_for(lambda: _statuses(receiver, request_id, ["queued"]), what="request.queued")

    receiver.mode = "unavailable"  # the hospital's server is down for a while: 503, then not even listening
    assert (await gateway.post("/v1/queue/claims", json={"job_id": "job_1", "printer_id": "p1"})).status_code == 201
    await wait_for(lambda: _true(receiver.answered_unavailable >= 1), what="a 503")
    receiver.stop()
    await gateway.post("/v1/queue/claims/job_1/sent", json={})
    await gateway.post("/v1/queue/claims/job_1/printed", json={"card_serial": "KTP00000021"})
    receiver.mode = "ok"
    receiver.start()
    await wait_for(lambda: _statuses(receiver, request_id, ["queued", "printing", "printed"]), timeout=20,
                   what="every event, in order")  # fmt: skip
    printed = receiver.received[-1].body
    assert printed["type"] == "request.printed"
    assert printed["data"]["card_serial"] == "KTP00000021"
    assert printed["data"]["nik"].count("*") == 10  # no more of the resident than the partner sent: masked
    assert receiver.refused == 0

    deliveries = (await hospital.get("/v1/partners/me/deliveries")).json()["items"]
    assert [d["type"] for d in deliveries] == ["request.printed", "request.printing", "request.queued"]
    printing = deliveries[1]
    assert printing["state"] == "delivered"
    assert printing["attempts"] >= 2
    assert printing["history"][0]["status_code"] == 503 or printing["history"][0]["error"]
    again = await hospital.post(f"/v1/partners/me/deliveries/{deliveries[0]['id']}/redeliver")
    assert again.status_code == 202
    await wait_for(lambda: _true(sum(m.message_id == deliveries[0]["id"] for m in receiver.received) == 2),
                   what="the redelivery, with the same webhook-id")  # fmt: skip


async def test_a_rotated_webhook_secret_signs_with_both_during_the_overlap(
    desk: InProcessRequestService, receiver: WebhookReceiver
) -> None:
    partner = await register(desk, callback_url=receiver.url)
    rotated = await desk.as_("admin").post(f"/v1/partners/{partner['client_id']}/secrets", json={"kind": "webhook"})
    receiver.secrets.extend([partner["webhook_secret"], rotated.json()["secret"]])
    hospital = await partner_client(desk, partner)
    request_id = (
        await hospital.post("/v1/requests", json=request_body(31, reason="health", channel="partner"))
    ).json()["id"]
    await wait_for(lambda: _statuses(receiver, request_id, ["queued"]), what="request.queued")
    assert receiver.received[-1].verified_with == (0, 1)  # the old secret and the new one both verify it


async def _statuses(receiver: WebhookReceiver, request_id: str, expected: list[str]) -> bool:
    return receiver.statuses(request_id) == expected


async def _true(value: bool) -> bool:
    return value


async def test_a_webhook_secret_outlives_a_rotation_of_the_data_keys_that_retires_the_old_one(
    desk: InProcessRequestService, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    """The webhook secrets are sealed with the data keys: ``ektp keys rotate-data --retire`` seals them again
    under the new key before the old one leaves the file, so the partner's receiver still verifies."""
    from services.request.privacy import keys as data_keys
    from services.request.privacy.rotation import reseal, used_key_ids

    partner = await register(desk, callback_url=receiver.url)
    receiver.secrets.append(partner["webhook_secret"])
    keyring = desk.app.state.context.keyring
    old = keyring.current_id
    data_keys.add_key(keyring.path)
    keyring._refresh(now=True)
    assert keyring.current_id != old
    await reseal(desk.app.state.db, keyring)
    assert data_keys.drop_keys(keyring.path, await used_key_ids(desk.app.state.db)) == [old]
    keyring._refresh(now=True)

    hospital = await partner_client(desk, partner)
    made = await hospital.post("/v1/requests", json=request_body(41, reason="health", channel="partner"))
    await wait_for(lambda: _statuses(receiver, made.json()["id"], ["queued"]), what="request.queued")
    assert receiver.refused == 0


async def test_a_request_past_its_target_is_told_overdue_once(
    desk: InProcessRequestService, receiver: WebhookReceiver
) -> None:
    import datetime as dt

    from services.request.partners.overdue import notice_overdue

    partner = await register(desk, callback_url=receiver.url)
    receiver.secrets.append(partner["webhook_secret"])
    hospital = await partner_client(desk, partner)
    made = await hospital.post("/v1/requests", json=request_body(51, reason="health", channel="partner"))
    request_id = made.json()["id"]
    await wait_for(lambda: _statuses(receiver, request_id, ["queued"]), what="request.queued")
    context, db = desk.app.state.context, desk.app.state.db
    assert await notice_overdue(db, context) == 0  # within its target

    desk.pin_clock(dt.datetime.now(dt.UTC) + dt.timedelta(days=30))
    assert await notice_overdue(db, context) == 1
    assert await notice_overdue(db, context) == 0  # told once
    await wait_for(lambda: _true(any(m.body["type"] == "request.overdue" for m in receiver.received)), what="overdue")
    overdue = next(m.body for m in receiver.received if m.body["type"] == "request.overdue")
    assert (overdue["data"]["request_id"], overdue["data"]["status"]) == (request_id, "queued")
