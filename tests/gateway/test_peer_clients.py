"""The gateway's clients of its peers, against small real web apps on loopback ports (tests/gateway/peers.py).

A peer that fails for a while (5xx, 429, a dropped connection, no answer in time) is asked again with the same
``Idempotency-Key`` until it answers; a 4xx is an answer, never asked again, and becomes the exception the
dispatch loop decides on (``NoBlanks``, ``LeaseLost``, ``StaleJob``, else ``PeerAnswer`` with the problem's
kind). docs/architecture.md, "Contracts between the services".
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from services.common.peers import PeerPolicy, PeerUnavailable, service_client
from services.gateway.clients import InventoryClient, RequestClient
from services.gateway.clients.requests import MAX_REASON
from services.gateway.dispatch.lease import LeaseKeeper
from services.gateway.errors import LeaseLost, NoBlanks, PeerAnswer, StaleJob
from tests.gateway.peers import Answer, Drop, Hold, Peers, Problem, Reply, peers_running
from tests.support import wait_for

JOB = "job_0123456789abcdef"
QUICK = PeerPolicy(initial_wait=0.01, max_wait=0.02)  # retried without end, quickly
TIMEOUT = httpx.Timeout(0.3, connect=0.3)  # what "no answer in time" means here


@dataclass
class Clients:
    peers: Peers
    token: str
    requests: RequestClient
    inventory: InventoryClient


@contextlib.asynccontextmanager
async def _clients(peers: Peers, token: str, policy: PeerPolicy = QUICK) -> AsyncIterator[Clients]:
    async with (
        service_client(peers.requests.url, token=token, timeout=TIMEOUT) as request_http,
        service_client(peers.inventory.url, token=token, timeout=TIMEOUT) as inventory_http,
    ):
        requests = RequestClient(request_http, policy=policy)
        yield Clients(peers, token, requests, InventoryClient(inventory_http, policy=policy))


@pytest.fixture
async def peers() -> AsyncIterator[Peers]:
    async with peers_running() as peers:
        yield peers


@pytest.fixture
async def clients(peers: Peers, make_token: Callable[..., str]) -> AsyncIterator[Clients]:
    async with _clients(peers, make_token("service")) as clients:
        yield clients


# -- passing failures are retried --------------------------------------------------------------------------

PASSING = [
    pytest.param(Problem(500), id="500"),
    pytest.param(Problem(502), id="502"),
    pytest.param(Problem(503), id="503"),
    pytest.param(Problem(429), id="429"),
    pytest.param(Drop(), id="dropped-connection"),
    pytest.param(Hold(seconds=2), id="no-answer-in-time"),
]


@pytest.mark.parametrize("failure", PASSING)
async def test_a_report_meeting_a_passing_failure_is_sent_again_with_the_same_key_until_it_is_answered(
    clients: Clients, failure: Answer
) -> None:
    clients.peers.requests.on("POST", "/printed$", failure, failure)
    answer = await clients.requests.printed(JOB, "KTP00000001", "prn_1")
    assert answer == {"job_id": JOB}
    calls = clients.peers.requests.made("printed", JOB)
    assert len(calls) == 3
    assert {c.key for c in calls} == {f"{JOB}:printed"}
    assert {c.body["card_serial"] for c in calls} == {"KTP00000001"}


@pytest.mark.parametrize("failure", PASSING)
async def test_a_reservation_meeting_a_passing_failure_is_asked_for_again_until_it_is_granted(
    clients: Clients, failure: Answer
) -> None:
    clients.peers.inventory.on("POST", "/v1/reservations$", failure)
    reservation = await clients.inventory.reserve(JOB, urgent=True, ttl_seconds=60)
    assert reservation.job_id == JOB
    calls = clients.peers.inventory.made("reservations", JOB)
    assert len(calls) == 2
    assert {c.key for c in calls} == {f"{JOB}:reserve"}
    assert calls[0].body == {"job_id": JOB, "urgent": True, "ttl_seconds": 60}


async def test_a_peer_that_stays_down_is_given_up_on_after_the_policys_attempts(
    peers: Peers, make_token: Callable[..., str]
) -> None:
    async with _clients(peers, make_token("service"), PeerPolicy(attempts=3, initial_wait=0.01)) as clients:
        peers.inventory.on("POST", "/consume$", Problem(503), always=True)
        with pytest.raises(PeerUnavailable):
            await clients.inventory.consume(JOB, "KTP00000001", "req_01", "prn_1")
        assert len(peers.inventory.made("consume", JOB)) == 3
        peers.requests.on("POST", "/sent$", Drop(), always=True)
        with pytest.raises(PeerUnavailable) as dropped:
            await clients.requests.sent(JOB, "prn_1")
        assert isinstance(dropped.value.__cause__, httpx.TransportError)
        assert len(peers.requests.made("sent", JOB)) == 3


async def test_a_peer_nobody_listens_for_is_unavailable_once_the_attempts_run_out() -> None:
    async with service_client("http://127.0.0.1:9", timeout=TIMEOUT) as http:
        client = RequestClient(http, policy=PeerPolicy(attempts=2, initial_wait=0.01))
        with pytest.raises(PeerUnavailable) as refused:
            await client.release(JOB)
        assert isinstance(refused.value.__cause__, httpx.ConnectError)


# -- a 4xx is an answer ------------------------------------------------------------------------------------

Call = Callable[[Clients], Awaitable[Any]]


def _renew(c: Clients) -> Awaitable[Any]:
    return c.requests.renew(JOB, 30)


def _printed(c: Clients) -> Awaitable[Any]:
    return c.requests.printed(JOB, "KTP00000001", "prn_1")


def _failed(c: Clients) -> Awaitable[Any]:
    return c.requests.failed(JOB, "CARD JAM", card_used=True)


def _reserve(c: Clients) -> Awaitable[Any]:
    return c.inventory.reserve(JOB, urgent=False, ttl_seconds=60)


def _consume(c: Clients) -> Awaitable[Any]:
    return c.inventory.consume(JOB, "KTP00000001", "req_01", "prn_1")


def _claim(c: Clients) -> Awaitable[Any]:
    return c.requests.claim(JOB, "prn_1", 30)


ANSWERS = [
    pytest.param("requests", "/renew$", Problem(409, "lease-lost"), _renew, LeaseLost, id="renew-lease-lost"),
    pytest.param("requests", "/renew$", Problem(409, "stale-job"), _renew, StaleJob, id="renew-stale-job"),
    pytest.param("requests", "/renew$", Problem(403, "forbidden"), _renew, PeerAnswer, id="renew-forbidden"),
    pytest.param("requests", "/printed$", Problem(409, "stale-job"), _printed, StaleJob, id="printed-stale-job"),
    pytest.param("requests", "/failed$", Problem(409, "lease-lost"), _failed, LeaseLost, id="failed-lease-lost"),
    pytest.param("requests", "/printed$", Problem(404, "not-found"), _printed, PeerAnswer, id="printed-404"),
    pytest.param("requests", "/claims$", Problem(422, "validation"), _claim, PeerAnswer, id="claim-422"),
    pytest.param("inventory", "/reservations$", Problem(409, "no-blanks"), _reserve, NoBlanks, id="no-blanks"),
    pytest.param("inventory", "/reservations$", Problem(409, "closed"), _reserve, PeerAnswer, id="reserve-409"),
    pytest.param("inventory", "/consume$", Problem(409, "serial-consumed"), _consume, PeerAnswer, id="consume-409"),
]


@pytest.mark.parametrize(("peer", "path", "problem", "call", "raised"), ANSWERS)
async def test_a_problem_answer_is_not_retried_and_becomes_the_exception_the_loop_decides_on(
    clients: Clients, peer: str, path: str, problem: Problem, call: Call, raised: type[Exception]
) -> None:
    which = getattr(clients.peers, peer)
    which.on("POST", path, problem)
    with pytest.raises(raised) as caught:
        await call(clients)
    assert len(which.calls) == 1
    answer = caught.value if isinstance(caught.value, PeerAnswer) else caught.value.__cause__
    assert isinstance(answer, PeerAnswer)
    assert (answer.status, answer.kind) == (problem.status, problem.kind)


async def test_a_problem_answer_that_is_not_json_keeps_its_text(clients: Clients) -> None:
    clients.peers.requests.on("POST", "/release$", Reply(400, "bad request"))
    with pytest.raises(PeerAnswer) as caught:
        await clients.requests.release(JOB)
    assert (caught.value.status, caught.value.kind, caught.value.body) == (400, "", {"detail": "bad request"})


# -- what the calls say and what their answers become ------------------------------------------------------


async def test_a_claim_gives_the_next_request_or_none_when_nothing_is_queued(clients: Clients) -> None:
    assert await clients.requests.claim("job_empty", "prn_1", 30) is None
    clients.peers.requests.queue("req_07", priority="urgent")
    claim = await clients.requests.claim(JOB, "prn_1", 30)
    assert claim is not None
    assert (claim.job_id, claim.request_id, claim.priority, claim.card.nik) == (
        JOB,
        "req_07",
        "urgent",
        "1809014501900002",
    )
    [call] = clients.peers.requests.made("claims", JOB)
    assert call.body == {"job_id": JOB, "printer_id": "prn_1", "lease_seconds": 30}
    assert call.key == f"{JOB}:claim"


async def test_a_waiting_claim_is_given_its_wait_and_a_margin_to_answer_beyond_the_usual_time_out(
    clients: Clients,
) -> None:
    # The request service holds a waiting claim up to wait_seconds: longer than the client's 0.3 s read time-out.
    clients.peers.requests.on("POST", "/claims$", Hold(seconds=0.6))
    assert await clients.requests.claim(JOB, "prn_1", 30, wait_seconds=1) is None
    [call] = clients.peers.requests.made("claims", JOB)
    assert call.body["wait_seconds"] == 1


async def test_reasons_are_cut_to_what_the_peers_accept_and_never_sent_empty(clients: Clients) -> None:
    await clients.requests.failed(JOB, "x" * 1000, card_used=False)
    await clients.requests.needs_review(JOB, "")
    await clients.inventory.hold(JOB, "")
    await clients.inventory.hold("job_long", "y" * 1000)
    [failed] = clients.peers.requests.made("failed", JOB)
    assert failed.body == {"reason": "x" * MAX_REASON, "card_used": False}
    assert clients.peers.requests.made("needs-review", JOB)[0].body == {"reason": "unspecified"}
    assert clients.peers.inventory.made("hold", JOB)[0].body == {"reason": "outcome unknown"}
    assert clients.peers.inventory.made("hold", "job_long")[0].body == {"reason": "y" * 200}


@pytest.mark.parametrize("body", ["", "not json"])
async def test_an_answer_without_a_json_body_reads_as_empty(clients: Clients, body: str) -> None:
    clients.peers.requests.on("POST", "/needs-review$", Reply(200, body))
    clients.peers.inventory.on("POST", "/spoil$", Reply(200, body))
    assert await clients.requests.needs_review(JOB, "power lost") == {}
    spoiled = await clients.inventory.spoil(
        JOB, "KTP00000001", reason="failed_print", witness="gateway", printer_id="p"
    )
    assert spoiled == {}


async def test_capacity_is_published_rounded_and_capped_and_not_at_all_before_anything_is_measured(
    clients: Clients,
) -> None:
    await clients.requests.put_capacity(0, 2)
    await clients.requests.put_capacity(120, 0)
    assert clients.peers.requests.calls == []
    await clients.requests.put_capacity(123.456, 2)
    await clients.requests.put_capacity(1e9, 1)
    assert [c.body for c in clients.peers.requests.calls] == [
        {"cards_per_hour": 123.5, "printers": 2},
        {"cards_per_hour": 10_000, "printers": 1},
    ]


async def test_a_request_is_read_with_the_service_token_and_says_why(clients: Clients) -> None:
    body = await clients.requests.get_request("req_01", purpose="card preview by operator-1")
    assert body["id"] == "req_01"
    [call] = clients.peers.requests.calls
    assert call.authorization == f"Bearer {clients.token}"
    assert call.purpose == "card preview by operator-1"


# -- the lease ---------------------------------------------------------------------------------------------


async def test_a_lease_is_renewed_through_passing_failures_and_given_up_once_the_request_went_elsewhere(
    clients: Clients,
) -> None:
    # Three failed renewals in a row (one renewal's three attempts) are logged and the keeper goes on.
    requests = clients.peers.requests
    requests.on("POST", "/renew$", Problem(503), Drop(), Problem(429), Problem(503), Problem(409, "lease-lost"))
    keeper = LeaseKeeper(clients.requests, JOB, lease_seconds=0.06).start()  # renewed every 0.02 s
    try:

        async def lost() -> bool:
            return keeper.lost

        await wait_for(lost, what="the lease lost")
        renewals = requests.made("renew", JOB)
        assert len(renewals) == 5
        assert {c.body["lease_seconds"] for c in renewals} == {0.06}
    finally:
        keeper.stop()


async def test_a_lease_renewed_while_the_job_runs_stops_being_renewed_when_the_job_ends(clients: Clients) -> None:
    keeper = LeaseKeeper(clients.requests, JOB, lease_seconds=0.03).start()

    async def renewed_twice() -> bool:
        return len(clients.peers.requests.made("renew", JOB)) >= 2

    await wait_for(renewed_twice, what="two renewals")
    task = keeper._task
    keeper.stop()
    assert task is not None
    with contextlib.suppress(BaseException):
        await task
    assert task.cancelled()
    assert not keeper.lost
