"""Rate limits per caller (services/common/ratelimit.py): a partner that loops is slowed down with 429 and
Retry-After, and only that partner; the services calling each other are never limited; a caller without a
valid token is counted by its address; health checks and the console are exempt."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from services.common.auth import KeyPair
from services.request.app import create_app
from services.request.config import Settings
from tests.support import running


@pytest.fixture
async def app(keys: KeyPair, tmp_path: Path, _templates: Any) -> FastAPI:
    database = tmp_path / "request.db"
    shutil.copyfile(_templates.sqlite_template("request"), database)
    return create_app(
        Settings(
            database_url=f"sqlite+aiosqlite:///{database}",
            jwt_public_key=keys.public_pem.decode(),
            rate_limits={"partner": "3/minute", "anonymous": "2/minute"},
        )
    )


async def test_a_partner_over_its_limit_gets_429_with_retry_after_and_others_are_not_slowed(
    app: FastAPI, client_for: Callable[..., httpx.AsyncClient], make_token: Callable[..., str]
) -> None:
    async with (
        running(app),
        client_for(app, make_token("partner", subject="rsud")) as looping,
        client_for(app, make_token("partner", subject="univ")) as other,
        client_for(app, make_token("service", subject="gateway")) as gateway,
    ):
        assert [(await looping.get("/v1/regions")).status_code for _ in range(3)] == [200, 200, 200]
        refused = await looping.get("/v1/regions")
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"].endswith("/rate-limited")
        assert 1 <= int(refused.headers["retry-after"]) <= 60
        # A second token of the same partner is the same caller.
        again = client_for(app, make_token("partner", subject="rsud"))
        async with again:
            assert (await again.get("/v1/regions")).status_code == 429

        assert (await other.get("/v1/regions")).status_code == 200
        assert {(await gateway.get("/v1/queue/stats")).status_code for _ in range(10)} == {200}


async def test_callers_without_a_valid_token_are_counted_by_address_and_health_is_exempt(
    app: FastAPI, client_for: Callable[..., httpx.AsyncClient]
) -> None:
    async with running(app), client_for(app, "not-a-token") as guessing:
        assert [(await guessing.get("/v1/requests")).status_code for _ in range(2)] == [401, 401]
        assert (await guessing.get("/v1/requests")).status_code == 429
        assert (await guessing.get("/healthz")).status_code == 200
        assert (await guessing.get("/console/")).status_code == 200
