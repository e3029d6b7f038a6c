"""The gateway's peers as small real web apps on loopback ports, and the gateway in process between them.

``RequestService`` and ``InventoryService`` are Starlette apps served by uvicorn on ``127.0.0.1`` (the gateway
reaches them through its own clients, built from its settings as in production). They answer the contract of
docs/architecture.md in the simplest way, record every call, and on demand give the next calls something
else: a problem+json 4xx, a 5xx or 429, an answer held back, or a connection dropped mid-answer::

    peers.requests.on("POST", "/printed$", Problem(503), Problem(429), Drop())  # the next three calls
    peers.requests.on("POST", "/renew$", Problem(409, "lease-lost"), always=True)  # every call

``gateway_between(settings, peers)`` runs the gateway app (its dispatch loops, journal recovery and clients);
``printer_ready(app, name, url)`` registers a printer and starts its worker as commissioning would.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import re
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from services.gateway.app import create_app
from services.gateway.config import Settings
from services.gateway.dispatch.dispatcher import Dispatcher
from services.gateway.fleet.schemas import PrinterIn
from services.gateway.fleet.service import CONFIGURATION, register
from services.gateway.fleet.states import PrinterLifecycle
from services.gateway.journal.steps import JobState
from services.gateway.models import Job
from tests.gateway.conftest import SAMPLE_CARD
from tests.support import running, wait_for

__all__ = [
    "Answer",
    "Call",
    "Drop",
    "Hold",
    "InventoryService",
    "Peers",
    "Problem",
    "Reply",
    "RequestService",
    "dispatcher",
    "gateway_between",
    "job_settled",
    "peers_running",
    "printer_ready",
    "serving",
]


# -- what a peer may answer instead of the usual ------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """An RFC 9457 problem: ``Problem(409, "lease-lost")``, ``Problem(503)``; 429 and 503 carry Retry-After."""

    status: int
    kind: str = "unavailable"

    def response(self) -> Response:
        headers = {"Retry-After": "0"} if self.status in (429, 503) else {}
        body = {"type": f"/problems/{self.kind}", "title": self.kind, "status": self.status}
        return JSONResponse(body, self.status, headers=headers, media_type="application/problem+json")


@dataclass(frozen=True)
class Reply:
    """Any answer: a status and a raw body (``Reply(400, "not json")``)."""

    status: int
    body: str = ""

    def response(self) -> Response:
        return Response(self.body, self.status, media_type="text/plain")


@dataclass(frozen=True)
class Drop:
    """The connection closes halfway through the answer (the peer's process died, a proxy cut it)."""


@dataclass(frozen=True)
class Hold:
    """The answer is held back until ``until`` is set, at most ``seconds``; then the usual answer goes out."""

    until: asyncio.Event | None = None
    seconds: float = 30.0


Answer = Problem | Reply | Drop | Hold


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any
    key: str | None  # the Idempotency-Key header
    authorization: str | None
    purpose: str | None = None  # the X-Access-Purpose header: why the gateway reads a resident's record

    @property
    def job(self) -> str | None:
        """The job id a claim or reservation call is about (in its path, else its body)."""
        match = re.search(r"/(job_[^/]+)", self.path)
        if match:
            return match.group(1)
        return self.body.get("job_id") if isinstance(self.body, dict) else None

    @property
    def what(self) -> str:
        """The last part of the path: ``claims``, ``renew``, ``printed``, ``consume``, ``reservations`` …"""
        return self.path.rstrip("/").rsplit("/", 1)[-1]


@dataclass
class _Scripted:
    method: str
    pattern: re.Pattern[str]
    answers: deque[Answer]
    always: bool


# -- the peers ----------------------------------------------------------------------------------------------


class Peer:
    """A small ASGI app that records every call and answers as scripted, else as its routes say."""

    def __init__(self, routes: list[Route]) -> None:
        self.calls: list[Call] = []
        self.url = ""
        self._app = Starlette(routes=routes)
        self._script: list[_Scripted] = []
        self.stopping = asyncio.Event()

    def on(self, method: str, path: str, *answers: Answer, always: bool = False) -> None:
        """The next calls of ``method`` whose path matches the regex ``path`` get ``answers``, one each, in
        order; then the usual answer again. ``always``: every such call gets ``answers[0]``."""
        self._script.append(_Scripted(method, re.compile(path), deque(answers), always))

    def made(self, what: str, job: str | None = None) -> list[Call]:
        """The calls whose path ends in ``what`` (``printed``, ``consume``, ``reservations`` …), for ``job``."""
        return [c for c in self.calls if c.what == what and (job is None or c.job == job)]

    def about(self, job: str) -> list[str]:
        """What was said about ``job``, in order (``claims``, ``sent``, ``printed`` …; ``renew`` left out)."""
        return [c.what for c in self.calls if c.job == job and c.what != "renew"]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        request = Request(scope, receive)
        raw = await request.body()
        call = Call(
            request.method,
            request.url.path,
            json.loads(raw) if raw else None,
            request.headers.get("idempotency-key"),
            request.headers.get("authorization"),
            request.headers.get("x-access-purpose"),
        )
        self.calls.append(call)
        answer = self._scripted(call)
        if isinstance(answer, Hold):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(answer.seconds):
                    await (answer.until or self.stopping).wait()
            answer = None
        if isinstance(answer, Drop):
            await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"100")]})
            await send({"type": "http.response.body", "body": b'{"job', "more_body": True})
            return  # uvicorn closes the connection: the client reads a cut answer
        if answer is not None:
            await answer.response()(scope, receive, send)
            return
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if sent:
                await self.stopping.wait()
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}

        await self._app(scope, replay, send)

    def _scripted(self, call: Call) -> Answer | None:
        for scripted in self._script:
            if scripted.method == call.method and scripted.pattern.search(call.path) and scripted.answers:
                return scripted.answers[0] if scripted.always else scripted.answers.popleft()
        return None


def _ok(body: dict[str, Any] | None = None) -> Response:
    return JSONResponse(body or {})


async def _answer_ok(request: Request) -> Response:
    return _ok()


class RequestService(Peer):
    """The request service's queue calls: ``queue(request_id)`` puts a request up for the next claim."""

    def __init__(self) -> None:
        super().__init__(
            [
                Route("/v1/queue/claims", self._claim, methods=["POST"]),
                Route("/v1/queue/claims/{job_id}/{what}", self._report, methods=["POST"]),
                Route("/v1/queue/capacity", _answer_ok, methods=["PUT"]),
                Route("/v1/requests/{request_id}", self._request, methods=["GET"]),
            ]
        )
        self.waiting: deque[dict[str, Any]] = deque()
        self.claims: dict[str, dict[str, Any]] = {}

    def queue(
        self, request_id: str = "req_01", *, priority: str = "regular", card: dict[str, Any] | None = None
    ) -> str:
        """Put ``request_id`` up for the next claim, with ``card`` as its card data (the sample card if None)."""
        self.waiting.append({"request_id": request_id, "priority": priority} | ({"card": card} if card else {}))
        return request_id

    def claim_of(self, request_id: str) -> dict[str, Any]:
        """The claim that took ``request_id`` (waits for none: call it once the claim was made)."""
        return next(claim for claim in self.claims.values() if claim["request_id"] == request_id)

    async def _claim(self, request: Request) -> Response:
        body = await request.json()
        job_id = body["job_id"]
        if job_id in self.claims:
            return JSONResponse(self.claims[job_id])  # the same claim again: idempotent
        if not self.waiting:
            return Response(status_code=204)
        wanted = self.waiting.popleft()
        expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=body["lease_seconds"])
        claim = {
            "job_id": job_id,
            "printer_id": body["printer_id"],
            "reason": "first_card",
            "attempts": 0,
            "lease_expires_at": expires.isoformat(),
            "card": SAMPLE_CARD,
            **wanted,
        }
        self.claims[job_id] = claim
        return JSONResponse(claim, 201)

    async def _report(self, request: Request) -> Response:
        return _ok({"job_id": request.path_params["job_id"]})

    async def _request(self, request: Request) -> Response:
        return _ok({"id": request.path_params["request_id"], "card": SAMPLE_CARD})


class InventoryService(Peer):
    """The inventory service's reservation calls: every job gets a blank."""

    def __init__(self) -> None:
        super().__init__(
            [
                Route("/v1/reservations", self._reserve, methods=["POST"]),
                Route("/v1/reservations/{job_id}/{what}", _answer_ok, methods=["POST"]),
            ]
        )

    async def _reserve(self, request: Request) -> Response:
        body = await request.json()
        return JSONResponse({"job_id": body["job_id"], "status": "open"}, 201)


@dataclass
class Peers:
    requests: RequestService = field(default_factory=RequestService)
    inventory: InventoryService = field(default_factory=InventoryService)

    def __iter__(self) -> Iterator[Peer]:
        return iter((self.requests, self.inventory))


class _Server(uvicorn.Server):
    """uvicorn in the test's event loop: no signal handlers of its own, and it stops the moment it is told."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.told_to_stop = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # pytest keeps its own signal handlers

    async def main_loop(self) -> None:
        await self.told_to_stop.wait()  # not a tick every 0.1 s

    def stop(self) -> None:
        self.should_exit = True
        self.told_to_stop.set()


@contextlib.asynccontextmanager
async def serving(*peers: Peer) -> AsyncIterator[None]:
    """Each of ``peers`` served by uvicorn on a free loopback port (``peer.url``) for the block."""
    servers: list[tuple[_Server, asyncio.Task[None]]] = []
    try:
        for peer in peers:
            config = uvicorn.Config(
                peer, host="127.0.0.1", port=0, lifespan="off", ws="none", http="h11", log_config=None
            )
            config.timeout_graceful_shutdown = 2
            server = _Server(config)
            task = asyncio.create_task(server.serve())
            servers.append((server, task))

            async def started(server: _Server = server, task: asyncio.Task[None] = task) -> bool:
                if task.done():
                    task.result()  # raises what stopped it
                return server.started

            await wait_for(started, what="a peer's server to start")
            peer.url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
        yield
    finally:
        for peer in peers:
            peer.stopping.set()  # held answers go out now
        for server, _ in servers:
            server.stop()
        await asyncio.gather(*(task for _, task in servers))


@contextlib.asynccontextmanager
async def peers_running() -> AsyncIterator[Peers]:
    peers = Peers()
    async with serving(*peers):
        yield peers


# -- the gateway between them -------------------------------------------------------------------------------


def dispatcher(app: FastAPI) -> Dispatcher:
    found: Dispatcher = app.state.dispatcher
    return found


@contextlib.asynccontextmanager
async def gateway_between(settings: Settings, peers: Peers) -> AsyncIterator[FastAPI]:
    """The gateway app, its clients pointed at ``peers``; the block starts once its start-up recovery is over."""
    app = create_app(
        settings.model_copy(update={"request_url": peers.requests.url, "inventory_url": peers.inventory.url})
    )
    async with running(app):

        async def started() -> bool:
            return not any(
                getattr(task.get_coro(), "__qualname__", "") == "keep_trying" for task in dispatcher(app)._tasks
            )

        await wait_for(started, what="the dispatcher's start")
        yield app


async def printer_ready(app: FastAPI, name: str, url: str, *, worker: bool = True) -> str:
    """A printer registered and moved to ready with its worker started, as commissioning leaves it
    (``worker=False``: the next start of the gateway starts it)."""
    gw = dispatcher(app).gw
    async with gw.db.sessions.begin() as session:
        printer = await register(session, CONFIGURATION, PrinterIn(name=name, url=url), urls=gw.printer_urls)
        printer_id = printer.id
    for state in (PrinterLifecycle.COMMISSIONING, PrinterLifecycle.READY):
        assert await gw.fleet.set_state(printer_id, state) is not None, state
    if worker:
        dispatcher(app).ensure_worker(printer_id)
    return printer_id


async def job_settled(app: FastAPI, job_id: Callable[[], str | None], *, timeout: float = 10.0) -> Job:
    """The job once it is no longer active (printed, failed, handed back, in review)."""
    journal = dispatcher(app).gw.journal
    found: list[Job] = []

    async def settled() -> bool:
        wanted = job_id()
        job = await journal.get(wanted) if wanted else None
        found[:] = [job] if job is not None else []
        return job is not None and job.status != JobState.ACTIVE

    await wait_for(settled, timeout=timeout, what="the job to settle")
    return found[0]
