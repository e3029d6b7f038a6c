"""The shared foundation through HTTP: tokens and roles, problem+json, audit rows, idempotency keys,
health and metrics — on a small app built from the same pieces as the three services, on both databases."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Request
from pydantic import BaseModel, Field

from services.common.app import build_app
from services.common.audit import Auditor, audit_router
from services.common.auth import Authorize, KeyPair, Principal, Role, issue_token
from services.common.db import DbSession
from services.common.idempotency import IdempotencyKeys, fingerprint
from services.common.problems import Conflict
from services.request.config import Settings
from services.request.models import AuditEvent, IdempotencyKey
from tests.support import running


class Note(BaseModel):
    text: str = Field(min_length=1, max_length=50)
    count: int = Field(ge=0)


# Module level: with postponed annotations FastAPI resolves `Depends(writer)` from the module's globals.
writer = Authorize(Role.ADMIN, Role.OPERATOR)


def _notes_router() -> APIRouter:
    router = APIRouter(prefix="/v1/notes")
    auditor, idem = Auditor(AuditEvent), IdempotencyKeys(IdempotencyKey)

    @router.post("", status_code=201)
    async def create_note(
        note: Note,
        request: Request,
        session: DbSession,
        principal: Annotated[Principal, Depends(writer)],
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> object:
        fp = fingerprint("POST", request.url.path, note.model_dump())
        if replay := await idem.replay(session, principal, idempotency_key, fp):
            return replay
        if note.text == "conflict":
            raise Conflict("this note conflicts", kind="note-conflict")
        auditor.record(session, principal, "note.created", "note", note.text, after=note.model_dump())
        await session.flush()
        return await idem.remember(
            session, principal, idempotency_key, fp, 201, {"text": note.text, "at": dt.datetime.now(dt.UTC)}
        )

    return router


@pytest.fixture
async def app(migrated_db: Callable[[str], str], keys: KeyPair) -> FastAPI:
    settings = Settings(database_url=migrated_db("request"), jwt_public_key=keys.public_pem.decode(), log_json=True)
    return build_app(
        settings,
        service="foundation-test",
        title="t",
        description="",
        database_url=settings.database_url,
        routers=[_notes_router(), audit_router(AuditEvent)],
    )


@pytest.fixture
async def call(app: FastAPI, client_for: Callable[..., httpx.AsyncClient]):
    async with running(app), client_for(app) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_health_and_metrics_need_no_token(call: httpx.AsyncClient) -> None:
    assert (await call.get("/healthz")).json()["status"] == "ok"
    assert (await call.get("/readyz")).json()["status"] == "ready"
    await call.get("/healthz")
    metrics = await call.get("/metrics")
    assert metrics.status_code == 200
    assert 'route="/healthz"' in metrics.text


async def test_a_call_without_a_token_gets_401_problem_json(call: httpx.AsyncClient) -> None:
    response = await call.post("/v1/notes", json={"text": "a", "count": 1})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["type"].endswith("token-missing")


async def test_a_token_signed_by_another_key_is_refused(call: httpx.AsyncClient) -> None:
    from services.common.auth import generate_key_pair

    forged = issue_token(generate_key_pair().private_pem, role=Role.ADMIN, subject="mallory")
    response = await call.post("/v1/notes", json={"text": "a", "count": 1}, headers=bearer(forged))
    assert response.status_code == 401
    assert response.json()["type"].endswith("token-invalid")


async def test_an_expired_token_is_refused(call: httpx.AsyncClient, keys: KeyPair) -> None:
    old = issue_token(keys.private_pem, role=Role.ADMIN, subject="a", ttl=dt.timedelta(seconds=-5))
    response = await call.post("/v1/notes", json={"text": "a", "count": 1}, headers=bearer(old))
    assert response.status_code == 401
    assert response.json()["type"].endswith("token-expired")


@pytest.mark.parametrize("role", ["clerk", "partner", "service"])
async def test_a_role_not_allowed_gets_403_and_nothing_is_written(
    call: httpx.AsyncClient, make_token: Callable[..., str], role: str
) -> None:
    token = make_token(role, scope=["18.09.01"] if role == "clerk" else ())
    response = await call.post("/v1/notes", json={"text": "a", "count": 1}, headers=bearer(token))
    assert response.status_code == 403
    assert role in response.json()["detail"]
    audit = await call.get("/v1/audit", headers=bearer(make_token("admin")))
    assert audit.json()["total"] == 0


async def test_invalid_input_gets_422_naming_each_field(
    call: httpx.AsyncClient, make_token: Callable[..., str]
) -> None:
    response = await call.post("/v1/notes", json={"text": "", "count": -1}, headers=bearer(make_token("operator")))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    fields = {e["field"]: e["reason"] for e in response.json()["errors"]}
    assert set(fields) == {"text", "count"}
    assert "at least 1 character" in fields["text"]


async def test_a_state_change_writes_an_audit_row_that_only_admin_reads(
    call: httpx.AsyncClient, make_token: Callable[..., str]
) -> None:
    created = await call.post(
        "/v1/notes",
        json={"text": "hello", "count": 2},
        headers=bearer(make_token("operator", subject="desk-1")),
    )
    assert created.status_code == 201
    assert (await call.get("/v1/audit", headers=bearer(make_token("operator")))).status_code == 403
    audit = (await call.get("/v1/audit", params={"object_type": "note"}, headers=bearer(make_token("admin")))).json()
    assert audit["total"] == 1
    event = audit["items"][0]
    assert (event["actor"], event["actor_role"], event["action"], event["object_id"]) == (
        "desk-1",
        "operator",
        "note.created",
        "hello",
    )
    assert event["after"] == {"text": "hello", "count": 2}


async def test_a_refused_change_leaves_no_audit_row(call: httpx.AsyncClient, make_token: Callable[..., str]) -> None:
    response = await call.post(
        "/v1/notes", json={"text": "conflict", "count": 1}, headers=bearer(make_token("operator"))
    )
    assert response.status_code == 409
    assert response.json()["type"].endswith("note-conflict")
    assert (await call.get("/v1/audit", headers=bearer(make_token("admin")))).json()["total"] == 0


async def test_an_idempotent_replay_returns_the_first_answer_and_changes_nothing(
    call: httpx.AsyncClient, make_token: Callable[..., str]
) -> None:
    headers = bearer(make_token("operator")) | {"Idempotency-Key": "k-1"}
    first = await call.post("/v1/notes", json={"text": "once", "count": 1}, headers=headers)
    again = await call.post("/v1/notes", json={"text": "once", "count": 1}, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert (await call.get("/v1/audit", headers=bearer(make_token("admin")))).json()["total"] == 1


async def test_the_same_idempotency_key_with_another_body_gets_422(
    call: httpx.AsyncClient, make_token: Callable[..., str]
) -> None:
    headers = bearer(make_token("operator")) | {"Idempotency-Key": "k-2"}
    assert (await call.post("/v1/notes", json={"text": "one", "count": 1}, headers=headers)).status_code == 201
    reused = await call.post("/v1/notes", json={"text": "two", "count": 1}, headers=headers)
    assert reused.status_code == 422
    assert reused.json()["errors"][0]["field"] == "Idempotency-Key"


async def test_idempotency_keys_are_scoped_by_caller(call: httpx.AsyncClient, make_token: Callable[..., str]) -> None:
    for subject in ("desk-1", "desk-2"):
        headers = bearer(make_token("operator", subject=subject)) | {"Idempotency-Key": "shared"}
        assert (await call.post("/v1/notes", json={"text": subject, "count": 1}, headers=headers)).status_code == 201
    assert (await call.get("/v1/audit", headers=bearer(make_token("admin")))).json()["total"] == 2


async def test_a_database_that_does_not_answer_gives_503_problems_not_500(
    keys: KeyPair, make_token: Callable[..., str], client_for: Callable[..., httpx.AsyncClient]
) -> None:
    settings = Settings(
        database_url="postgresql+asyncpg://postgres@127.0.0.1:1/nowhere", jwt_public_key=keys.public_pem.decode()
    )
    app = build_app(
        settings, service="t", title="t", description="", database_url=settings.database_url, routers=[_notes_router()]
    )
    async with running(app), client_for(app) as call:
        created = await call.post("/v1/notes", json={"text": "a", "count": 1}, headers=bearer(make_token("operator")))
        ready = await call.get("/readyz")
    assert created.status_code == 503
    assert created.headers["content-type"] == "application/problem+json"
    assert created.json()["type"].endswith("database-unavailable")
    assert ready.status_code == 503
