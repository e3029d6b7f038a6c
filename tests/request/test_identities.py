"""Identities are not shared by accident: a stored answer (Idempotency-Key) is replayed only to the same subject
in the same role and scope, and only after the caller is allowed to make the call; a 409 for a NIK that already
has a request names that request only to a caller who may read it. And a kecamatan clerk proposes regular
requests only: urgent ones are taken at the desk."""

from __future__ import annotations

from tests.factories import request_body
from tests.request.conftest import InProcessRequestService


async def test_a_clerk_of_another_kecamatan_cannot_replay_a_submission_even_with_the_same_subject(
    office: InProcessRequestService,
) -> None:
    body = request_body(1, kecamatan="18.09.01")
    first = office.as_("clerk", scope=["18.09.01"], subject="clerk-shared")
    other = office.as_("clerk", scope=["18.09.02"], subject="clerk-shared")
    key = {"Idempotency-Key": "proposal-1"}
    assert (await first.post("/v1/requests", json=body, headers=key)).status_code == 201

    replayed = await other.post("/v1/requests", json=body, headers=key)
    assert replayed.status_code == 403, replayed.text
    assert replayed.json()["type"].endswith("/out-of-scope")
    assert "idempotent-replayed" not in replayed.headers
    assert body["nik"] not in replayed.text


async def test_the_same_key_of_the_same_caller_still_replays(office: InProcessRequestService) -> None:
    body = request_body(2)
    clerk = office.as_("clerk", scope=["18.09.01"], subject="clerk-a")
    again = office.as_("clerk", scope=["18.09.01"], subject="clerk-a")  # a second token of the same clerk
    key = {"Idempotency-Key": "walk-in-7"}
    first = await clerk.post("/v1/requests", json=body, headers=key)
    second = await again.post("/v1/requests", json=body, headers=key)
    assert (first.status_code, second.status_code) == (201, 201)
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json()["id"] == first.json()["id"]


async def test_a_clerk_whose_scope_changed_does_not_get_the_old_scopes_answers(
    office: InProcessRequestService,
) -> None:
    # The same person with a new token for two kecamatan: a different scope, so a different owner of keys.
    body = request_body(3)
    key = {"Idempotency-Key": "k-3"}
    before = office.as_("clerk", scope=["18.09.01"], subject="clerk-b")
    after = office.as_("clerk", scope=["18.09.01", "18.09.02"], subject="clerk-b")
    assert (await before.post("/v1/requests", json=body, headers=key)).status_code == 201
    answer = await after.post("/v1/requests", json=body, headers=key)
    assert answer.status_code == 409  # judged afresh: the NIK has its request
    assert "idempotent-replayed" not in answer.headers


async def test_a_duplicate_nik_names_the_existing_request_only_to_whoever_may_read_it(
    office: InProcessRequestService,
) -> None:
    partner_a = office.as_("partner", subject="rs-abdul-moeloek")
    partner_b = office.as_("partner", subject="univ-lampung")
    urgent = request_body(4, reason="health", channel="partner")
    created = await partner_a.post("/v1/requests", json=urgent)
    assert created.status_code == 201, created.text
    existing = created.json()["id"]

    stranger = await partner_b.post("/v1/requests", json=urgent)
    assert stranger.status_code == 409
    problem = stranger.json()
    assert problem["type"].endswith("/duplicate-nik")
    assert "existing_request_id" not in problem
    assert "existing_request" not in problem
    assert "link" not in stranger.headers
    assert existing not in stranger.text

    clerk_elsewhere = office.as_("clerk", scope=["18.09.02"])
    elsewhere = await clerk_elsewhere.post(
        "/v1/requests", json=request_body(4, kecamatan="18.09.02") | {"nik": urgent["nik"]}
    )
    assert elsewhere.status_code == 409
    assert existing not in elsewhere.text

    for caller in (partner_a, office.as_("operator")):
        known = await caller.post("/v1/requests", json=urgent if caller is partner_a else request_body(4))
        assert known.status_code == 409
        assert known.json()["existing_request_id"] == existing
        assert known.headers["link"] == f'</v1/requests/{existing}>; rel="duplicate"'


async def test_a_clerk_may_not_propose_an_urgent_request(office: InProcessRequestService) -> None:
    clerk = office.as_("clerk", scope=["18.09.01"])
    urgent = await clerk.post("/v1/requests", json=request_body(5, reason="health"))
    assert urgent.status_code == 403, urgent.text
    problem = urgent.json()
    assert problem["type"].endswith("/clerk-urgent")
    assert [e["field"] for e in problem["errors"]] == ["reason"]
    assert (await office.as_("operator").get("/v1/requests")).json()["total"] == 0
    # The same resident's regular proposal is taken; the desk takes the urgent one.
    assert (await clerk.post("/v1/requests", json=request_body(6))).status_code == 201
    assert (await office.as_("operator").post("/v1/requests", json=request_body(7, reason="health"))).status_code == 201
