"""The one peer-client base: a busy peer is retried, a refusal is an answer (never retried) raised as the exception
its problem kind names, and a peer that never answers ends in ``PeerUnavailable`` once the policy gives up."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from services.common.peers import (
    PeerAnswer,
    PeerClient,
    PeerError,
    PeerPolicy,
    PeerUnavailable,
    service_client,
)
from tests.support import free_port

QUICK = PeerPolicy(attempts=4, max_seconds=5.0, initial_wait=0.001, max_wait=0.01)


class Gone(PeerAnswer):
    """409 gone, as a client of this peer names it."""


class Client(PeerClient):
    answers = {(409, "gone"): Gone}  # noqa: RUF012


def peer() -> tuple[FastAPI, list[str]]:
    """A small real app: ``/busy`` answers 503 twice, then 200; ``/gone`` a 409 problem; ``/bad`` a 422."""
    app, calls = FastAPI(), []

    @app.post("/busy")
    async def busy() -> JSONResponse:
        calls.append("busy")
        if calls.count("busy") <= 2:
            return JSONResponse({"title": "busy"}, status_code=503)
        return JSONResponse({"ok": True})

    @app.post("/gone")
    async def gone() -> JSONResponse:
        calls.append("gone")
        return JSONResponse({"type": "https://x/problems/gone", "title": "Conflict", "status": 409}, status_code=409)

    @app.post("/bad")
    async def bad() -> JSONResponse:
        calls.append("bad")
        return JSONResponse({"type": "https://x/problems/validation", "status": 422}, status_code=422)

    return app, calls


def client_of(app: FastAPI) -> Client:
    return Client(service_client("http://peer", transport=httpx.ASGITransport(app=app)), policy=QUICK)


async def test_a_busy_peer_is_retried_until_it_answers() -> None:
    app, calls = peer()
    response = await client_of(app).call("POST", "/busy", key="job-1:step")
    assert response.json() == {"ok": True}
    assert calls == ["busy"] * 3


async def test_a_refusal_is_raised_once_as_the_exception_its_kind_names() -> None:
    app, calls = peer()
    with pytest.raises(Gone) as caught:
        await client_of(app).call("POST", "/gone")
    assert (caught.value.status, caught.value.kind) == (409, "gone")
    assert calls == ["gone"]  # a 4xx is an answer: never retried


async def test_an_unmapped_refusal_is_a_plain_peer_answer() -> None:
    app, calls = peer()
    with pytest.raises(PeerAnswer) as caught:
        await client_of(app).call("POST", "/bad")
    assert type(caught.value) is PeerAnswer
    assert caught.value.kind == "validation"
    assert calls == ["bad"]


async def test_a_peer_that_never_answers_ends_in_peer_unavailable() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    client = Client(service_client(closed), policy=QUICK)
    with pytest.raises(PeerUnavailable) as caught:
        await client.call("POST", "/anything")
    assert isinstance(caught.value, PeerError)
    assert isinstance(caught.value.__cause__, httpx.TransportError)
    await client.aclose()


async def test_a_peer_busy_for_longer_than_the_policy_ends_in_peer_unavailable_with_its_answer() -> None:
    app = FastAPI()

    @app.get("/always-busy")
    async def always_busy() -> JSONResponse:
        return JSONResponse({}, status_code=429)

    with pytest.raises(PeerUnavailable) as caught:
        await client_of(app).call("GET", "/always-busy")
    assert caught.value.response is not None
    assert caught.value.response.status_code == 429
