"""Under real concurrency: eight gateways drain 500 requests, each claimed exactly once; ten desks submitting
one NIK at once queue it once.

On PostgreSQL the callers run on the app's connection pool (``FOR UPDATE SKIP LOCKED``, the partial unique
index on active NIKs); on SQLite the single writer (``BEGIN IMMEDIATE``) serialises them.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from tests.factories import KECAMATAN, batch_row, make_nik, request_body
from tests.request.conftest import InProcessRequestService

REQUESTS = 500
CLAIMERS = 8


async def test_eight_concurrent_claimers_take_each_of_500_requests_exactly_once(
    office: InProcessRequestService,
) -> None:
    operator = office.as_("operator")
    rows = [batch_row(n, kecamatan=KECAMATAN[n % len(KECAMATAN)]) for n in range(1, REQUESTS + 1)]
    uploaded = await operator.post("/v1/batches", json={"rows": rows})
    assert uploaded.json()["accepted_rows"] == REQUESTS, uploaded.text

    async def claimer(number: int, client: httpx.AsyncClient) -> list[str]:
        taken: list[str] = []
        while True:
            job = f"job_{number}_{len(taken)}"
            response = await client.post("/v1/queue/claims", json={"job_id": job, "printer_id": f"printer-{number}"})
            if response.status_code == 204:
                return taken
            assert response.status_code == 201, response.text
            taken.append(response.json()["request_id"])

    gateways = [office.as_("service", subject=f"gateway-{n}") for n in range(CLAIMERS)]
    results = await asyncio.gather(*(claimer(n, g) for n, g in enumerate(gateways)))

    claimed = Counter(r for taken in results for r in taken)
    assert len(claimed) == REQUESTS
    assert set(claimed.values()) == {1}
    assert sum(1 for taken in results if taken) > 1  # the work really was shared
    stats = (await gateways[0].get("/v1/queue/stats")).json()
    assert stats["printing"] == REQUESTS
    assert stats["queued"] == 0


async def test_ten_desks_submitting_one_nik_at_once_queue_it_exactly_once(office: InProcessRequestService) -> None:
    desks = [office.as_("operator", subject=f"desk-{n}") for n in range(10)]
    # half of the desks send an Idempotency-Key (each its own), half send none
    headers = [{"Idempotency-Key": f"desk-{n}-0001"} if n % 2 else {} for n in range(10)]
    answers = await asyncio.gather(
        *(desk.post("/v1/requests", json=request_body(1), headers=h) for desk, h in zip(desks, headers, strict=True))
    )

    assert Counter(a.status_code for a in answers) == {201: 1, 409: 9}, [a.text for a in answers]
    winner = next(a for a in answers if a.status_code == 201).json()["id"]
    for refused in (a for a in answers if a.status_code == 409):
        problem = refused.json()
        assert problem["type"].endswith("/duplicate-nik")
        assert problem["existing_request"] == f"/v1/requests/{winner}"
        assert f"</v1/requests/{winner}>" in refused.headers["link"]

    admin = office.as_("admin")
    stored = (await admin.get("/v1/requests", params={"nik": make_nik(serial=1), "purpose": "pelayanan"})).json()
    assert [r["id"] for r in stored["items"]] == [winner]
    assert (await admin.get("/v1/audit", params={"action": "request.created"})).json()["total"] == 1
    stats = (await admin.get("/v1/queue/stats")).json()
    assert stats["queued"] == 1
