"""The gateway app in process, with fake request and inventory services that record every call: an office
where each role has a client, for tests of who may do what and what the audit trail keeps."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from services.common.auth import Role
from services.gateway.app import create_app
from services.gateway.config import Settings
from services.gateway.dispatch.dispatcher import Dispatcher
from services.gateway.fleet.states import PrinterLifecycle
from services.gateway.journal.service import new_job_id
from services.gateway.journal.steps import Step
from tests.gateway.conftest import SAMPLE_CARD
from tests.support import running, wait_for

REQUEST_ID = "req_01"  # the request the jobs below carry; the fake request service knows it


@dataclass
class Peers:
    """The request and inventory services as the gateway's clients see them: every call recorded, answered 200
    (``GET /v1/requests/<REQUEST_ID>`` with the sample card, any other request 404)."""

    calls: list[tuple[str, str, Any]] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.calls.append((request.method, request.url.path, body))
        if request.method == "GET" and request.url.path.startswith("/v1/requests/"):
            if request.url.path == f"/v1/requests/{REQUEST_ID}":
                return httpx.Response(200, json={"id": REQUEST_ID, "card": SAMPLE_CARD})
            return httpx.Response(404, json={"type": "/problems/request-not-found"})
        return httpx.Response(200, json={})


@dataclass
class InProcessGateway:
    """A gateway app (no dispatch loops) with a client per role, an anonymous one, and fake peers."""

    app: FastAPI
    by_role: dict[str, httpx.AsyncClient]
    anonymous: httpx.AsyncClient
    peers: Peers

    @property
    def dispatcher(self) -> Dispatcher:
        dispatcher: Dispatcher = self.app.state.dispatcher
        return dispatcher

    async def printer(self, name: str, *, to: tuple[PrinterLifecycle, ...] = ()) -> str:
        """Register a printer (as the admin), then move it through ``to`` as the gateway's workers would."""
        response = await self.by_role["admin"].post("/v1/printers", json={"name": name, "url": "socket://127.0.0.1:9"})
        assert response.status_code == 201, response.text
        printer_id = str(response.json()["id"])
        for state in to:
            assert await self.dispatcher.gw.fleet.set_state(printer_id, state) is not None, state
        return printer_id

    async def job(self, printer_id: str, *, steps: tuple[Step, ...] = ()) -> str:
        """A job journalled as the dispatch loop does it: claimed, then ``steps`` (the card comes with the claim)."""
        journal = self.dispatcher.gw.journal
        job_id = new_job_id()
        await journal.begin(job_id, printer_id)
        for step in steps:
            fields: dict[str, Any] = {"request_id": REQUEST_ID, "card": SAMPLE_CARD} if step is Step.RESERVED else {}
            await journal.advance(job_id, step, **fields)
        return job_id


def _is_start(task: Any) -> bool:
    return getattr(task.get_coro(), "__qualname__", "") == "keep_trying"


@contextlib.asynccontextmanager
async def open_office(
    settings: Settings, client_for: Callable[..., httpx.AsyncClient], make_token: Callable[..., str]
) -> AsyncIterator[InProcessGateway]:
    app = create_app(settings)
    peers = Peers()
    async with contextlib.AsyncExitStack() as stack:
        await stack.enter_async_context(running(app))
        by_role: dict[str, httpx.AsyncClient] = {}
        for role in Role:
            scope = ["18.09.01"] if role is Role.CLERK else []
            token = make_token(role, scope=scope, subject=f"{role.value}-1")
            by_role[role.value] = await stack.enter_async_context(client_for(app, token))
        anonymous = await stack.enter_async_context(client_for(app))
        dispatcher: Dispatcher = app.state.dispatcher
        for client in (dispatcher.gw.requests, dispatcher.gw.inventory):
            client.http = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.MockTransport(peers.handler), base_url="http://peer")
            )

        # The dispatcher's start (journal recovery) runs in the background: wait for it to be over, or it
        # would hand back the unfinished jobs a test is about to write.
        async def started() -> bool:
            return not any(_is_start(task) for task in dispatcher._tasks)

        await wait_for(started, what="the dispatcher's start")
        yield InProcessGateway(app=app, by_role=by_role, anonymous=anonymous, peers=peers)
