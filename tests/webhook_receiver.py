"""A partner's webhook receiver for tests: a real HTTP server (uvicorn, its own thread and port) that verifies every
message with the ``standardwebhooks`` library, as a partner would, and keeps what arrived.

``mode`` decides its answers: ``ok`` (204), ``unavailable`` (503), or ``closed`` (the socket refuses: the server is
stopped and started again on the same port).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support import free_port

__all__ = ["Received", "WebhookReceiver"]


@dataclass(frozen=True)
class Received:
    message_id: str
    body: dict[str, Any]
    verified_with: tuple[int, ...]  # which of the receiver's secrets verified it (index into ``secrets``)


@dataclass
class WebhookReceiver:
    secrets: list[str]
    mode: str = "ok"
    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    refused: int = 0  # messages whose signature no secret verified
    answered_unavailable: int = 0
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/ektp"

    async def _hook(self, request: Request) -> Response:
        if self.mode == "unavailable":
            self.answered_unavailable += 1
            return Response("maintenance", status_code=503)
        body = await request.body()
        verified = []
        for index, secret in enumerate(self.secrets):
            try:
                Webhook(secret).verify(body, dict(request.headers))
            except WebhookVerificationError:
                continue
            verified.append(index)
        if not verified:
            self.refused += 1
            return Response("bad signature", status_code=401)
        self.received.append(Received(request.headers["webhook-id"], json.loads(body), tuple(verified)))
        return Response(status_code=204)

    def start(self) -> WebhookReceiver:
        app = Starlette(routes=[Route("/hooks/ektp", self._hook, methods=["POST"])])
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=lambda: asyncio.run(self._server.serve()), daemon=True)  # type: ignore[union-attr]
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the webhook receiver did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def statuses(self, request_id: str) -> list[str]:
        """The statuses received for a request, in arrival order, each message once (duplicates dropped by id)."""
        seen: set[str] = set()
        out = []
        for message in self.received:
            if message.body["data"]["request_id"] == request_id and message.message_id not in seen:
                seen.add(message.message_id)
                out.append(message.body["data"]["status"])
        return out
