"""Hostile bodies (services/common/bodies.py): no service reads a byte of a body before the caller's token is
checked, a body over its route's limit is refused before it is read (declared length) or as soon as it passes
the limit (streamed), always with problem+json, and an upload route keeps its own larger limit."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.common.auth import KeyPair, generate_key_pair, issue_token
from services.gateway.app import create_app as create_gateway
from services.gateway.config import Settings as GatewaySettings
from services.inventory.app import create_app as create_inventory
from services.inventory.config import Settings as InventorySettings
from services.request.app import create_app as create_request
from services.request.config import Settings as RequestSettings
from tests.support import running

PROBLEM_JSON = "application/problem+json"
LIMIT = 64 * 1024  # small, so that the tests send little
BATCH_LIMIT = 256 * 1024

# A route of each service that takes a JSON body from an operator.
WRITES = {
    "request": "/v1/requests",
    "inventory": "/v1/tranches",
    "gateway": "/v1/printers",
}


@pytest.fixture
def apps(keys: KeyPair, _templates: Any, tmp_path: Path) -> dict[str, FastAPI]:
    def database(service: str) -> str:
        path = tmp_path / f"{service}.db"
        shutil.copyfile(_templates.sqlite_template(service), path)
        return f"sqlite+aiosqlite:///{path}"

    common: dict[str, Any] = {"jwt_public_key": keys.public_pem.decode(), "max_body_bytes": LIMIT}
    return {
        "request": create_request(
            RequestSettings(database_url=database("request"), batch_max_bytes=BATCH_LIMIT, **common)
        ),
        "inventory": create_inventory(InventorySettings(database_url=database("inventory"), **common)),
        "gateway": create_gateway(
            GatewaySettings(
                database_url=database("gateway"),
                start_loops=False,
                request_url="http://127.0.0.1:9",
                inventory_url="http://127.0.0.1:9",
                **common,
            )
        ),
    }


class Call:
    """One call straight into the ASGI app, counting the body bytes the app pulled from the connection."""

    def __init__(self, body: bytes, *, chunk: int = 16 * 1024) -> None:
        self.chunks = [body[i : i + chunk] for i in range(0, len(body), chunk)] or [b""]
        self.pulled = 0
        self.status = 0
        self.headers: dict[str, str] = {}
        self.body = b""

    async def receive(self) -> dict[str, Any]:
        if self.pulled < len(self.chunks):
            chunk = self.chunks[self.pulled]
            self.pulled += 1
            return {"type": "http.request", "body": chunk, "more_body": self.pulled < len(self.chunks)}
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {k.decode(): v.decode() for k, v in message["headers"]}
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")

    @property
    def bytes_read(self) -> int:
        return sum(len(c) for c in self.chunks[: self.pulled])

    def problem(self) -> dict[str, Any]:
        assert self.headers["content-type"] == PROBLEM_JSON, self.headers
        body: dict[str, Any] = json.loads(self.body)
        return body


async def call(app: FastAPI, path: str, body: bytes, *, headers: dict[str, str], declare_length: bool = True) -> Call:
    the_call = Call(body)
    sent = {"content-type": "application/json"} | headers
    if declare_length:
        sent["content-length"] = str(len(body))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in sent.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, the_call.receive, the_call.send)
    return the_call


@pytest.mark.parametrize("service", sorted(WRITES))
@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer ", "Basic b3BlcmF0b3I6cGFzcw==", "Bearer not-a-token"],
    ids=["no header", "empty bearer", "basic", "garbage"],
)
async def test_a_body_without_a_valid_token_is_refused_before_a_byte_of_it_is_read(
    apps: dict[str, FastAPI], service: str, authorization: str
) -> None:
    headers = {"authorization": authorization} if authorization else {}
    answer = await call(apps[service], WRITES[service], b"{not json" + b" " * 40_000, headers=headers)
    assert answer.status == 401  # not the 422 of the invalid JSON: that would mean it was parsed
    assert answer.bytes_read == 0
    assert answer.problem()["type"].rsplit("/", 1)[-1] in ("token-missing", "token-invalid")
    assert answer.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("service", sorted(WRITES))
async def test_a_token_signed_by_another_key_is_refused_before_the_body(apps: dict[str, FastAPI], service: str) -> None:
    stranger = issue_token(generate_key_pair().private_pem, role="admin", subject="someone")
    answer = await call(apps[service], WRITES[service], b"{}", headers={"authorization": f"Bearer {stranger}"})
    assert (answer.status, answer.bytes_read) == (401, 0)
    assert answer.problem()["type"].endswith("/token-invalid")


@pytest.mark.parametrize("service", sorted(WRITES))
@pytest.mark.parametrize("token", [True, False], ids=["with a token", "without one"])
async def test_a_declared_length_over_the_limit_is_refused_before_reading(
    apps: dict[str, FastAPI], make_token: Callable[..., str], service: str, token: bool
) -> None:
    headers = {"authorization": f"Bearer {make_token('admin')}"} if token else {}
    answer = await call(apps[service], WRITES[service], b" " * (LIMIT + 1), headers=headers)
    assert (answer.status, answer.bytes_read) == (413, 0)
    problem = answer.problem()
    assert problem["type"].endswith("/body-too-large")
    assert problem["limit_bytes"] == LIMIT
    assert str(LIMIT) in problem["detail"]


async def test_a_streamed_body_is_cut_off_at_the_limit_and_nothing_is_stored(
    apps: dict[str, FastAPI], make_token: Callable[..., str], client_for: Callable[..., httpx.AsyncClient]
) -> None:
    app = apps["request"]
    operator = {"authorization": f"Bearer {make_token('operator')}"}
    body = json.dumps({"name": "x" * (LIMIT * 4)}).encode()
    async with running(app):
        answer = await call(app, "/v1/requests", body, headers=operator, declare_length=False)
        assert answer.status == 413
        assert answer.problem()["type"].endswith("/body-too-large")
        assert answer.bytes_read <= LIMIT + 16 * 1024  # the chunk that passed the limit, no more
        async with client_for(app, make_token("operator")) as client:
            assert (await client.get("/v1/requests")).json()["total"] == 0


async def test_a_body_within_the_limit_reaches_the_endpoint(
    apps: dict[str, FastAPI], client_for: Callable[..., httpx.AsyncClient], make_token: Callable[..., str]
) -> None:
    app = apps["inventory"]
    async with running(app), client_for(app, make_token("admin")) as client:
        # Padded to near the limit, still read and validated by the endpoint: 422 for what is missing, not 413.
        answer = await client.post("/v1/tranches", content=json.dumps({"note": "x" * (LIMIT - 100)}))
        assert answer.status_code == 422, answer.text
        assert answer.json()["type"].endswith("/validation")


async def test_the_upload_route_keeps_its_own_larger_limit(
    apps: dict[str, FastAPI], make_token: Callable[..., str]
) -> None:
    app = apps["request"]
    operator = {"authorization": f"Bearer {make_token('operator')}", "content-type": "text/csv"}
    async with running(app):
        # Over the default limit, within the batch limit: read, and judged as a proposal file (bad columns).
        within = await call(app, "/v1/batches", b"nik\n" + b"1" * (LIMIT * 2), headers=operator)
        assert within.status == 422, within.body
        assert within.bytes_read == LIMIT * 2 + 4
        over = await call(app, "/v1/batches", b"nik\n" + b"1" * BATCH_LIMIT, headers=operator)
        assert (over.status, over.bytes_read) == (413, 0)
        assert over.problem()["limit_bytes"] == BATCH_LIMIT


async def test_reading_calls_without_a_body_are_still_answered_by_the_endpoints_own_checks(
    apps: dict[str, FastAPI],
) -> None:
    # GET carries no body: the guard leaves it to Authorize, which answers 401 as before.
    app = apps["request"]
    async with running(app), httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://t") as client:
        answer = await client.get("/v1/requests")
        assert answer.status_code == 401
        assert (await client.get("/healthz")).status_code == 200
