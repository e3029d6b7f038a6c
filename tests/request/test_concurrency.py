"""Exclusive claims under real concurrency: eight gateways drain 500 requests, each claimed exactly once.

On PostgreSQL the claimers run on the app's connection pool (``FOR UPDATE SKIP LOCKED``); on SQLite the
single writer (``BEGIN IMMEDIATE``) serialises them.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from tests.request.conftest import Office
from tests.request.factories import KECAMATAN, batch_row

REQUESTS = 500
CLAIMERS = 8


async def test_eight_concurrent_claimers_take_each_of_500_requests_exactly_once(office: Office) -> None:
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
