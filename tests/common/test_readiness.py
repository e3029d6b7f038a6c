"""``/readyz`` tells a prober which dependency does not answer, in our words; the driver's error goes to the log."""

from __future__ import annotations

import logging
from collections.abc import Callable

import httpx
import pytest

from services.common.auth import KeyPair
from services.request.app import create_app
from services.request.config import Settings
from tests.support import running

CLOSED_PORT = "postgresql+asyncpg://ektp@127.0.0.1:1/ektp_request"
# Words a driver's error carries and a prober must not see: class names, the database's own messages, its host.
DRIVER_WORDS = ("Error", "Exception", "sqlalchemy", "sqlite", "asyncpg", "unable to open", "refused", "127.0.0.1")


async def test_readyz_says_the_database_does_not_answer_and_logs_why(
    keys: KeyPair, client_for: Callable[..., httpx.AsyncClient], caplog: pytest.LogCaptureFixture
) -> None:
    # A PostgreSQL server that is down: nothing listens on its port. (A SQLite file that cannot be opened would
    # do too, but aiosqlite's worker thread then outlives the test's event loop and fails the next test.)
    settings = Settings(database_url=CLOSED_PORT, jwt_public_key=keys.public_pem.decode())
    app = create_app(settings)
    with caplog.at_level(logging.WARNING, logger="services.common.observability"):
        async with running(app), client_for(app) as prober:
            answer = await prober.get("/readyz")
    assert answer.status_code == 503
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["detail"] == "the database does not answer"
    assert problem["checks"] == {"database": "does not answer"}
    for word in DRIVER_WORDS:
        assert word.lower() not in answer.text.lower(), word
    logged = [r.getMessage() for r in caplog.records if r.name == "services.common.observability"]
    assert any("the database does not answer" in message and "Error" in message for message in logged), logged
