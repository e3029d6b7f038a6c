"""Fixtures every test folder shares: signing keys and tokens, migrated databases on SQLite and PostgreSQL,
and in-process clients for a service app.

Database tests ask for ``migrated_db``: it is parametrised over both backends, so each such test runs once
on SQLite and once on PostgreSQL. Each test gets a fresh database made by the real alembic migrations (run
once per session into a template, then copied: a file copy on SQLite, ``CREATE DATABASE … TEMPLATE`` on
PostgreSQL) and dropped afterwards.

Tests that need something the machine lacks (PostgreSQL on 127.0.0.1:5432, chromium and chromedriver) skip,
and the run ends with a banner naming what was skipped and why (``pytest_terminal_summary`` below).
``EKTP_REQUIRE_POSTGRES=1`` / ``EKTP_REQUIRE_BROWSER=1`` (or ``CI=1`` for both) make them fail instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from services.common.auth import KeyPair, Role, generate_key_pair, issue_token
from services.common.migrate import upgrade
from services.request.privacy.keys import create_keys_file

PG_HOST = os.environ.get("EKTP_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("EKTP_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("EKTP_TEST_PG_USER", "postgres")
PG_ADMIN_DB = os.environ.get("EKTP_TEST_PG_DB", "test")


def _required(variable: str) -> bool:
    """``EKTP_REQUIRE_…=1`` (or, when it is unset, ``CI=1``): a missing dependency fails its tests, not skips them."""
    return os.environ.get(variable, os.environ.get("CI", "")) not in ("", "0", "false")


REQUIRE_POSTGRES = _required("EKTP_REQUIRE_POSTGRES")
REQUIRE_BROWSER = _required("EKTP_REQUIRE_BROWSER")

T = TypeVar("T")

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """Run blocking set-up (alembic, ``asyncio.run``) in a thread: fixtures may run inside the test's loop."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


def pg_run(sql: str) -> None:
    off_loop(asyncio.run, pg_admin(sql))


def pg_url(database: str) -> str:
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


async def pg_admin(sql: str) -> None:
    connection = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=PG_ADMIN_DB)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _postgres_answers() -> bool:
    async def probe() -> bool:
        try:
            await asyncio.wait_for(pg_admin("SELECT 1"), 3)
        except (OSError, asyncpg.PostgresError, TimeoutError):
            return False
        return True

    return off_loop(asyncio.run, probe())


def postgres_missing() -> NoReturn:
    """Skip the test (fail it under ``EKTP_REQUIRE_POSTGRES``): PostgreSQL does not answer."""
    message = f"PostgreSQL does not answer on {PG_HOST}:{PG_PORT}"
    if REQUIRE_POSTGRES:
        pytest.fail(f"{message}; EKTP_REQUIRE_POSTGRES (or CI) is set")
    pytest.skip(message)


def chromium_or_skip() -> tuple[str, str]:
    """The paths of chromium and chromedriver; skips the test (fails it under ``EKTP_REQUIRE_BROWSER``) without."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium and driver:
        return chromium, driver
    message = "chromium and chromedriver are not installed"
    if REQUIRE_BROWSER:  # CI installs Debian's chromium and chromium-driver (.ci/run)
        pytest.fail(f"{message}; EKTP_REQUIRE_BROWSER (or CI) is set")
    pytest.skip(message)


# ------------------------------------------------------------------------------ what the run skipped, loudly
_REMEDIES = {
    "PostgreSQL": "start PostgreSQL there (README, Development), or EKTP_REQUIRE_POSTGRES=1 to fail instead",
    "browser": "apt-get install chromium chromium-driver, or EKTP_REQUIRE_BROWSER=1 to fail instead",
}


def _skip_kind(reason: str) -> str:
    if "PostgreSQL" in reason:
        return "PostgreSQL"
    if "chromium" in reason or "chromedriver" in reason:
        return "browser"
    return ""


def _skip_reason(report: pytest.TestReport | pytest.CollectReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return str(reason).removeprefix("Skipped: ")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: Any) -> Iterator[None]:
    """A banner at the very end: how many tests were skipped, grouped by why (PostgreSQL, browser, other).

    A wrapper, so that it comes after pytest's short test summary. Under xdist this runs in the controller,
    where every worker's skip reports arrive in ``stats["skipped"]``.
    """
    yield
    reports = [r for r in terminalreporter.stats.get("skipped", []) if hasattr(r, "longrepr")]
    if not reports:
        return
    groups: dict[tuple[str, str], set[str]] = {}
    for report in reports:
        reason = _skip_reason(report)
        groups.setdefault((_skip_kind(reason), reason), set()).add(report.nodeid)
    terminalreporter.section("SKIPPED — these tests did not run", sep="!", yellow=True, bold=True)
    for (kind, reason), nodeids in sorted(groups.items(), key=lambda item: (item[0][0] == "", -len(item[1]))):
        count = len(nodeids)
        what = " ".join(filter(None, [str(count), kind, "test" if count == 1 else "tests"]))
        remedy = f"; {_REMEDIES[kind]}" if kind in _REMEDIES else ""
        terminalreporter.write_line(f"SKIPPED: {what} — {reason}{remedy}", yellow=True, bold=True)


@pytest.fixture(scope="session")
def keys() -> KeyPair:
    return generate_key_pair()


@pytest.fixture(scope="session", autouse=True)
def data_keys_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The request service's data keys (photos and signatures sealed at rest): it does not start without them.
    Every request app, service process and ``ektp`` command the tests start reads this one through
    ``EKTP_REQUEST_DATA_KEYS_FILE``, as compose sets it (an app built with ``data_keys_file=`` uses its own)."""
    path = tmp_path_factory.mktemp("data-keys") / "data-keys.json"
    create_keys_file(path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("EKTP_REQUEST_DATA_KEYS_FILE", str(path))
        yield path


@pytest.fixture(scope="session")
def make_token(keys: KeyPair) -> Callable[..., str]:
    """``make_token("clerk", scope=["18.09.01"], subject="clerk-1")`` → a signed bearer token."""

    def make(role: Role | str, *, scope: tuple[str, ...] | list[str] = (), subject: str | None = None) -> str:
        role = Role(role)
        return issue_token(keys.private_pem, role=role, subject=subject or f"{role.value}-test", scope=scope)

    return make


class _Templates:
    """Migrated template databases, one per (service, backend), made on first use in this session."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.sqlite: dict[str, Path] = {}
        self.postgres: dict[str, str] = {}
        self.tag = uuid.uuid4().hex[:8]
        self.postgres_ok: bool | None = None

    def sqlite_template(self, service: str) -> Path:
        if service not in self.sqlite:
            path = self.tmp / f"template-{service}.db"
            off_loop(upgrade, service, f"sqlite+aiosqlite:///{path}")
            self.sqlite[service] = path
        return self.sqlite[service]

    def postgres_template(self, service: str) -> str:
        if self.postgres_ok is None:
            self.postgres_ok = _postgres_answers()
        if not self.postgres_ok:
            postgres_missing()
        if service not in self.postgres:
            name = f"ektp_tpl_{service}_{self.tag}"
            pg_run(f'CREATE DATABASE "{name}"')
            off_loop(upgrade, service, pg_url(name))
            self.postgres[service] = name
        return self.postgres[service]

    def drop_all(self) -> None:
        async def drop() -> None:
            for name in self.postgres.values():
                await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

        if self.postgres:
            off_loop(asyncio.run, drop())


@pytest.fixture(scope="session")
def _templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Templates]:
    templates = _Templates(tmp_path_factory.mktemp("db-templates"))
    yield templates
    templates.drop_all()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def migrated_db(backend: str, _templates: _Templates, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """``migrated_db("request")`` → the URL of a fresh, fully migrated database for that service."""
    made: list[str] = []

    def make(service: str) -> str:
        if backend == "sqlite":
            path = tmp_path / f"{service}-{uuid.uuid4().hex[:6]}.db"
            shutil.copyfile(_templates.sqlite_template(service), path)
            return f"sqlite+aiosqlite:///{path}"
        template = _templates.postgres_template(service)
        name = f"ektp_t_{service}_{uuid.uuid4().hex[:10]}"
        pg_run(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        made.append(name)
        return pg_url(name)

    yield make

    async def drop() -> None:
        for name in made:
            await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    if made:
        off_loop(asyncio.run, drop())


@pytest.fixture
def client_for() -> Callable[[FastAPI, str | None], httpx.AsyncClient]:
    """``client_for(app, token)`` → an httpx client talking to ``app`` in-process (start its lifespan first)."""

    def make(app: FastAPI, token: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver", headers=headers, **kwargs
        )

    return make


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless Chromium per test module (Debian's chromium and chromium-driver)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = chromium_or_skip()  # fails instead under EKTP_REQUIRE_BROWSER (CI installs both)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    # A fake webcam (a test pattern), allowed without asking: the console's intake takes the resident's photo.
    options.add_argument("--use-fake-device-for-media-stream")
    options.add_argument("--use-fake-ui-for-media-stream")
    # The console's messages (CSP reports, failed loads) and the network log (every URL the page asked for).
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    session = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    session.set_window_size(1400, 1000)
    try:
        yield session
    finally:
        session.quit()


@pytest.fixture
def receiver() -> Iterator[Any]:
    """A partner's webhook receiver: a real HTTP server verifying each message (tests/webhook_receiver.py); the
    test adds the secrets it verifies with."""
    from tests.webhook_receiver import WebhookReceiver

    hooks = WebhookReceiver(secrets=[]).start()
    try:
        yield hooks
    finally:
        hooks.stop()
