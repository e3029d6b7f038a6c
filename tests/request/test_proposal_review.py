"""Kecamatan proposals reviewed by the office: a clerk's batch waits, an operator approves or rejects its rows,
only approved rows are ever queued; with review off a batch is queued at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from tests.factories import batch_row
from tests.request.conftest import InProcessRequestService
from tests.request.test_queue import drain

CLERK = "clerk-gedong-tataan"


async def propose(
    office: InProcessRequestService, count: int = 4, *, invalid: bool = True
) -> tuple[httpx.AsyncClient, dict[str, Any]]:
    """A clerk's proposal: ``count`` valid rows (1…count), then one invalid row."""
    clerk = office.as_("clerk", scope=["18.09.01"], subject=CLERK)
    rows = [batch_row(n) for n in range(1, count + 1)]
    if invalid:
        rows.append(batch_row(count + 1, rt="12"))
    response = await clerk.post("/v1/batches", json={"rows": rows})
    assert response.status_code == 201, response.text
    return clerk, response.json()


async def statuses(client: httpx.AsyncClient, batch_id: str) -> dict[str, int]:
    items = (await client.get("/v1/requests", params={"batch_id": batch_id, "limit": 100})).json()["items"]
    found: dict[str, int] = {}
    for item in items:
        found[item["status"]] = found.get(item["status"], 0) + 1
    return found


async def test_a_clerks_proposal_waits_for_the_office_and_nothing_is_claimable(office: InProcessRequestService) -> None:
    _, batch = await propose(office)
    assert batch["status"] == "submitted"
    assert (batch["accepted_rows"], batch["rejected_rows"], batch["pending_rows"]) == (4, 1, 4)
    assert await statuses(office.as_("operator"), batch["id"]) == {"received": 4}
    assert await drain(office.as_("service")) == []
    stats = (await office.as_("operator").get("/v1/queue/stats")).json()
    assert stats["queued"] == 0


async def test_approving_all_valid_rows_queues_them(office: InProcessRequestService) -> None:
    _, batch = await propose(office)
    operator = office.as_("operator", subject="operator-desk-1")
    decided = await operator.post(f"/v1/batches/{batch['id']}/decisions", json={"approve": "all_valid"})
    assert decided.status_code == 200, decided.text
    body = decided.json()
    assert (body["status"], body["approved_rows"], body["declined_rows"], body["pending_rows"]) == ("approved", 4, 0, 0)
    assert body["decided_by"] == "operator-desk-1"
    claims = await drain(office.as_("service"))
    assert len(claims) == 4
    again = await operator.post(f"/v1/batches/{batch['id']}/decisions", json={"approve": "all_valid"})
    assert again.status_code == 409
    assert again.json()["type"].endswith("batch-not-submitted")


async def test_rejected_rows_are_never_queued_and_the_batch_is_partly_approved(office: InProcessRequestService) -> None:
    clerk, batch = await propose(office)
    operator = office.as_("operator", subject="operator-desk-1")
    url = f"/v1/batches/{batch['id']}/decisions"
    first = await operator.post(
        url,
        json={
            "rows": [
                {"row": 1, "decision": "approve"},
                {"row": 2, "decision": "reject", "reason": "the resident already holds a valid card"},
            ]
        },
    )
    assert first.status_code == 200, first.text
    assert (first.json()["status"], first.json()["pending_rows"]) == ("submitted", 2)  # rows 3 and 4 still wait
    assert [c["card"]["nik"] for c in await drain(office.as_("service"), "early")] == [batch_row(1)["nik"]]

    # A rejection needs a reason; a decided or invalid row cannot be decided (again).
    no_reason = await operator.post(url, json={"rows": [{"row": 3, "decision": "reject"}]})
    assert no_reason.status_code == 422
    twice = await operator.post(
        url, json={"rows": [{"row": 2, "decision": "approve"}, {"row": 5, "decision": "approve"}]}
    )
    assert twice.status_code == 409
    assert {e["row"] for e in twice.json()["errors"]} == {2, 5}

    admin = office.as_("admin", subject="kepala-dinas")
    last = await admin.post(
        url, json={"rows": [{"row": 3, "decision": "approve"}, {"row": 4, "decision": "reject", "reason": "moved"}]}
    )
    assert last.status_code == 200, last.text
    assert (last.json()["status"], last.json()["approved_rows"], last.json()["declined_rows"]) == (
        "partly_approved",
        2,
        2,
    )
    claims = await drain(office.as_("service"), "late")
    assert [c["card"]["nik"] for c in claims] == [batch_row(3)["nik"]]  # rows 2 and 4 are never claimable
    assert await statuses(operator, batch["id"]) == {"printing": 2, "rejected": 2}

    # The clerk sees who decided what and when: in its batch's report and its decisions.
    report = (await clerk.get(batch["report"])).json()
    assert report["batch"]["status"] == "partly_approved"
    decisions = {d["row"]: d for d in report["decisions"]}
    assert {row: (d["decision"], d["decided_by"]) for row, d in decisions.items()} == {
        1: ("approve", "operator-desk-1"),
        2: ("reject", "operator-desk-1"),
        3: ("approve", "kepala-dinas"),
        4: ("reject", "kepala-dinas"),
    }
    assert decisions[2]["reason"] == "the resident already holds a valid card"
    assert all(d["decided_at"] for d in decisions.values())
    listed = (await clerk.get(f"/v1/batches/{batch['id']}/decisions")).json()
    assert listed["total"] == 4
    assert report["errors"] == [{"row": 5, "field": "rt", "reason": report["errors"][0]["reason"]}]

    # Every decision is audited.
    trail = (await admin.get("/v1/audit", params={"action": "batch.decided"})).json()
    assert [(e["actor"], e["after"]["status"]) for e in sorted(trail["items"], key=lambda e: e["at"])] == [
        ("operator-desk-1", "submitted"),
        ("kepala-dinas", "partly_approved"),
    ]


async def test_rejecting_every_row_rejects_the_proposal(office: InProcessRequestService) -> None:
    _, batch = await propose(office, 2, invalid=False)
    decided = await office.as_("operator").post(
        f"/v1/batches/{batch['id']}/decisions",
        json={"rows": [{"row": n, "decision": "reject", "reason": "duplicate proposal"} for n in (1, 2)]},
    )
    assert decided.json()["status"] == "rejected"
    assert await drain(office.as_("service")) == []


async def test_a_clerk_cannot_decide_a_proposal(office: InProcessRequestService) -> None:
    clerk, batch = await propose(office)
    refused = await clerk.post(f"/v1/batches/{batch['id']}/decisions", json={"approve": "all_valid"})
    assert refused.status_code == 403
    assert (await clerk.get(f"/v1/batches/{batch['id']}")).json()["status"] == "submitted"


async def test_with_review_off_a_clerks_batch_is_queued_at_once(open_office: Callable[..., Any]) -> None:
    async with open_office(batch_review_required=False) as office:
        _, batch = await propose(office)
        assert batch["status"] == "completed_with_errors"
        assert len(await drain(office.as_("service"))) == 4
        refused = await office.as_("operator").post(
            f"/v1/batches/{batch['id']}/decisions", json={"approve": "all_valid"}
        )
        assert refused.status_code == 409


async def test_the_offices_own_upload_is_queued_at_once(office: InProcessRequestService) -> None:
    uploaded = await office.as_("operator").post("/v1/batches", json={"rows": [batch_row(1), batch_row(2)]})
    assert uploaded.json()["status"] == "completed"
    assert len(await drain(office.as_("service"))) == 2


async def test_a_proposals_listed_rows_carry_their_row_number_for_the_review(office: InProcessRequestService) -> None:
    _, batch = await propose(office, count=3)
    listed = await office.as_("operator").get("/v1/requests", params={"batch_id": batch["id"], "limit": 100})
    rows = {item["batch_row"]: item["card"]["name"] for item in listed.json()["items"]}
    assert sorted(rows) == [1, 2, 3]  # row 4 was refused: it never became a request
    single = await office.as_("operator").get(f"/v1/requests/{listed.json()['items'][0]['id']}")
    assert single.json()["batch_row"] in rows
