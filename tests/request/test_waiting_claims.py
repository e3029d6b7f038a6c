"""Claims that wait for work (long polling): an idle printer's claim is held until a request is queued."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.common.auth import KeyPair
from services.common.server import GRACEFUL_SHUTDOWN_SECONDS
from tests.factories import batch_row
from tests.processes import office_stack
from tests.request.conftest import InProcessRequestService
from tests.request.test_queue import claim, submit
from tests.support import wait_for

# Long enough that only the notice of a queued request can end the wait within the test's patience.
LONG = 60.0


async def waiting_claim(gateway: httpx.AsyncClient, job: str, wait: float) -> httpx.Response:
    return await gateway.post("/v1/queue/claims", json={"job_id": job, "printer_id": "printer-1", "wait_seconds": wait})


async def claims_waiting(office: InProcessRequestService, count: int) -> None:
    operator = office.as_("operator")

    async def waiting() -> bool:
        return bool((await operator.get("/v1/queue/stats")).json()["waiting_claims"] == count)

    await wait_for(waiting, what=f"{count} waiting claim(s)")


async def by_submission(office: InProcessRequestService) -> str:
    return await submit(office.as_("operator"), 7)


async def by_batch(office: InProcessRequestService) -> str:
    operator = office.as_("operator")
    uploaded = await operator.post("/v1/batches", json={"rows": [batch_row(8, kecamatan="18.09.03")]})
    assert uploaded.status_code == 201, uploaded.text
    listed = await operator.get("/v1/requests", params={"batch_id": uploaded.json()["id"]})
    return str(listed.json()["items"][0]["id"])


async def by_release(office: InProcessRequestService) -> str:
    gateway = office.as_("service")
    released = await gateway.post("/v1/queue/claims/job_first/release", json={})
    assert released.status_code == 200, released.text
    return str(released.json()["id"])


async def by_failed_attempt(office: InProcessRequestService) -> str:
    gateway = office.as_("service")
    failed = await gateway.post("/v1/queue/claims/job_first/failed", json={"reason": "card jam", "card_used": False})
    assert failed.json()["status"] == "queued", failed.text
    return str(failed.json()["id"])


@pytest.mark.parametrize("queue_it", [by_submission, by_batch, by_release, by_failed_attempt])
async def test_a_waiting_claim_takes_a_request_the_moment_it_is_queued(
    open_office: Any, queue_it: Callable[[InProcessRequestService], Awaitable[str]]
) -> None:
    async with open_office(claim_recheck_seconds=LONG, max_claim_wait_seconds=LONG) as office:
        gateway = office.as_("service")
        if queue_it in (by_release, by_failed_attempt):  # a request another job holds, handed back below
            await submit(office.as_("operator"), 1)
            assert (await claim(gateway, "job_first")).status_code == 201
        waiting = asyncio.create_task(waiting_claim(gateway, "job_waiting", LONG))
        await claims_waiting(office, 1)  # the claim found nothing and waits; writes still go through (SQLite)
        request_id = await queue_it(office)
        answer = await asyncio.wait_for(waiting, 10)
        assert answer.status_code == 201, answer.text
        assert answer.json()["request_id"] == request_id
        assert (await office.as_("operator").get(f"/v1/requests/{request_id}")).json()["status"] == "printing"
        await claims_waiting(office, 0)


async def test_a_waiting_claim_with_nothing_queued_answers_204_when_its_wait_is_over(
    office: InProcessRequestService,
) -> None:
    gateway = office.as_("service")
    answer = await waiting_claim(gateway, "job_idle", 0.3)
    assert answer.status_code == 204
    await claims_waiting(office, 0)
    # The job id took nothing: once a request is queued another claim gets it.
    request_id = await submit(office.as_("operator"), 2)
    assert (await claim(gateway, "job_next")).json()["request_id"] == request_id


async def test_the_service_caps_how_long_a_claim_may_wait(open_office: Any) -> None:
    async with open_office(max_claim_wait_seconds=0.2) as office:
        answer = await asyncio.wait_for(waiting_claim(office.as_("service"), "job_capped", 600), 10)
        assert answer.status_code == 204


async def test_a_wait_longer_than_the_contract_allows_is_422_naming_the_field(office: InProcessRequestService) -> None:
    answer = await waiting_claim(office.as_("service"), "job_x", 601)
    assert answer.status_code == 422
    assert "wait_seconds" in answer.text


@pytest.mark.integration
async def test_a_stopping_service_answers_its_waiting_claims_at_once_instead_of_holding_up_the_stop(
    tmp_path: Path,
    keys: KeyPair,
    _templates: Any,  # noqa: PT019 - the migrated template databases, used as a value
) -> None:
    async with office_stack(tmp_path, keys, _templates) as stack:
        service = await stack.start("request")
        async with stack.client("request", "service") as gateway, stack.client("request") as operator:
            body = {"job_id": "job_idle", "printer_id": "printer-1", "wait_seconds": LONG}
            waiting = asyncio.create_task(gateway.post("/v1/queue/claims", json=body, timeout=LONG + 30))

            async def claim_waits() -> bool:
                return bool((await operator.get("/v1/queue/stats")).json()["waiting_claims"] == 1)

            await wait_for(claim_waits, what="the claim waiting")
            assert "date" in (await operator.get("/healthz")).headers  # still refreshed by the quieter loop
            assert service.process is not None
            loop = asyncio.get_running_loop()
            asked = loop.time()
            service.process.send_signal(signal.SIGTERM)
            answer = await asyncio.wait_for(waiting, LONG)
            assert answer.status_code == 204  # told at once that there is nothing, not cut off
            await asyncio.to_thread(service.process.wait, 30)
            assert loop.time() - asked < GRACEFUL_SHUTDOWN_SECONDS  # not held up to the graceful limit
            # uvicorn ends a clean shutdown by re-raising the signal it caught.
            assert service.process.returncode in (0, -signal.SIGTERM)
            assert "Cancel" not in service.log.read_text()  # no call was cut off at the graceful limit
