"""The request service running in-process on a freshly migrated database (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable
from typing import Any

import holidays
import httpx
import pytest

from services.common.auth import KeyPair
from services.request.app import create_app
from services.request.config import Settings
from tests.support import running

# A fixed instant for tests that read dates (``office.pin_clock()``): 20:00 UTC on Wednesday 4 November is
# already Thursday 5 November in the office (WIB, UTC+7), so a date taken in UTC instead is a day off.
OFFICE_NOW = dt.datetime(2026, 11, 4, 20, 0, tzinfo=dt.UTC)
OFFICE_TODAY = dt.date(2026, 11, 5)


# The office's closed days as the service's default settings make them: weekends, public holidays and the civil
# service's joint leave (cuti bersama).
CLOSED = holidays.country_holidays("ID", categories=("public", "government"))


def expected_print_date(today: dt.date, ahead: int, daily_capacity: int) -> dt.date:
    """The ``estimated_print_date`` of a queued request with ``ahead`` requests before it, counted from before the
    office opens on ``today``: each working day prints ``daily_capacity`` cards, so it is the working day
    ``ahead // daily_capacity`` working days on (weekends, public holidays and joint leave skipped). The one
    place to change when the estimate changes (docs/architecture.md, "Dates")."""
    day, left = today, ahead // daily_capacity
    while True:
        if day.weekday() < 5 and day not in CLOSED:
            if left == 0:
                return day
            left -= 1
        day += dt.timedelta(days=1)


class InProcessRequestService:
    """The running service and a client per caller: ``office.as_("clerk", scope=["18.09.01"])``."""

    def __init__(self, app: Any, make_token: Callable[..., str], client_for: Callable[..., httpx.AsyncClient]):
        self.app = app
        self._make_token = make_token
        self._client_for = client_for
        self._clients: list[httpx.AsyncClient] = []

    def as_(
        self, role: str, *, scope: list[str] | tuple[str, ...] = (), subject: str | None = None
    ) -> httpx.AsyncClient:
        if role == "clerk" and not scope:
            scope = ["18.09.01"]
        client = self._client_for(self.app, self._make_token(role, scope=scope, subject=subject))
        self._clients.append(client)
        return client

    def pin_clock(self, at: dt.datetime = OFFICE_NOW) -> None:
        """Stop the service's clock at ``at`` (the office's today is then ``OFFICE_TODAY`` by default)."""
        self.app.state.context.clock = lambda: at

    def anonymous(self) -> httpx.AsyncClient:
        client = self._client_for(self.app, None)
        self._clients.append(client)
        return client

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()


@pytest.fixture
def request_settings(migrated_db: Callable[[str], str], keys: KeyPair) -> Callable[..., Settings]:
    """``request_settings(max_attempts=2)`` → settings for a fresh database (one per fixture use)."""
    url = migrated_db("request")

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": url,
            "jwt_public_key": keys.public_pem.decode(),
            "log_json": True,
            "sweep_interval_seconds": 0.2,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@pytest.fixture
def open_office(
    request_settings: Callable[..., Settings],
    make_token: Callable[..., str],
    client_for: Callable[..., httpx.AsyncClient],
) -> Callable[..., Any]:
    """``async with open_office(**settings) as office`` → the running service (for tests that tune settings)."""
    import contextlib

    @contextlib.asynccontextmanager
    async def make(**overrides: Any) -> AsyncIterator[InProcessRequestService]:
        app = create_app(request_settings(**overrides))
        office = InProcessRequestService(app, make_token, client_for)
        async with running(app):
            try:
                yield office
            finally:
                await office.close()

    return make


@pytest.fixture
async def office(open_office: Callable[..., Any]) -> AsyncIterator[InProcessRequestService]:
    async with open_office() as running_office:
        yield running_office
