"""A partner system end to end, on the whole system as ``ektp up`` starts it: registered by an admin, a token by
client credentials, 200 urgent requests printed by the emulated printers, and its webhook receiver (a real HTTP
server verifying every message with the ``standardwebhooks`` library) told ``queued → printing → printed`` for
each, in order, although the request service was killed with SIGKILL twice while it delivered. Duplicates are
allowed (at least once) but only with the same ``webhook-id`` and body."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import httpx
import pytest

from tests.factories import resident
from tests.system.harness import SystemUnderTest, wait_until
from tests.webhook_receiver import WebhookReceiver

pytestmark = [
    pytest.mark.integration,
    pytest.mark.xdist_group("system"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

REQUESTS = 200
EXPECTED = ["queued", "printing", "printed"]


def test_every_event_of_200_requests_arrives_in_order_through_two_kills_of_the_request_service(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    env = {
        "EKTP_REQUEST_WEBHOOK_POLL_SECONDS": "0.05",
        "EKTP_REQUEST_WEBHOOK_BACKOFF_SECONDS": "0.2",
        "EKTP_REQUEST_WEBHOOK_LEASE_SECONDS": "2",  # a send cut off by the kill is taken again after this
    }
    sut = SystemUnderTest(tmp_path, env=env, blanks=REQUESTS + 50, time_scale=4000)
    sut.start()
    try:
        with sut.client("request", "admin") as admin:
            registered = admin.post("/v1/partners", json={
                "name": "RSUD Pesawaran", "contact": "it@rsud.example", "allowed_reasons": ["health", "education"],
                "rate_limit_per_minute": 6000, "callback_url": receiver.url,
            })  # fmt: skip
        assert registered.status_code == 201, registered.text
        partner = registered.json()
        receiver.secrets.append(partner["webhook_secret"])
        url = sut.info["urls"]["request"]
        grant = {"grant_type": "client_credentials"}
        answer = httpx.post(f"{url}/v1/auth/token", data=grant, auth=(partner["client_id"], partner["client_secret"]))
        assert answer.status_code == 200, answer.text
        headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}

        ids: list[str] = []
        with httpx.Client(base_url=url, headers=headers, timeout=30) as hospital:
            for number in range(REQUESTS):
                body = {**resident(number), "reason": "health", "channel": "partner"}
                made = hospital.post("/v1/requests", json=body)
                assert made.status_code == 201, made.text
                ids.append(made.json()["id"])

        def delivered() -> int:
            return len({m.message_id for m in receiver.received})

        for after in (REQUESTS, 2 * REQUESTS):  # mid-run: once the queued events are in, then halfway through
            wait_until(lambda: delivered() >= after, timeout=120, what=f"{after} deliveries")  # noqa: B023
            sut.kill("request")
            sut.wait_ready("request")

        def complete() -> bool:
            return all(receiver.statuses(request_id) == EXPECTED for request_id in ids)

        wait_until(complete, timeout=240, interval=0.5, what="every request's three events")
    finally:
        sut.stop()

    assert receiver.refused == 0
    by_id = defaultdict(list)
    for message in receiver.received:
        by_id[message.message_id].append(message.body)
    assert all(len({str(body) for body in bodies}) == 1 for bodies in by_id.values())  # a resend is the same message
    assert len(by_id) == REQUESTS * len(EXPECTED)
    for request_id in ids:  # in order per request, counting the first arrival of each message
        assert receiver.statuses(request_id) == EXPECTED, request_id
