"""docker-compose.yml run for real: the README's compose steps, then a day's printing through the published port,
a gateway and a PostgreSQL killed with SIGKILL mid-print, and `compose down -v`.

The three public images are replaced by local stand-ins built from Debian's packages (tests/system/compose/
standins.py: Docker Hub is out of reach here) through the variables docker-compose.yml reads (PYTHON_IMAGE,
POSTGRES_IMAGE, CADDY_IMAGE); the app image is built by compose from the Dockerfile, its dependencies installed
from a wheelhouse built on the host. Everything else is the checkout's own compose file, Dockerfile, Caddyfile and
init script, copied with the code into a scratch folder where the README's steps make `.env` and `secrets/`.

The README's steps are not restated here: the test reads the first shell block of the README's "Deploy with
compose" section and runs it, with three changes only: `docker compose` is the compose client found (Debian
bookworm has only `docker-compose`), `sudo ` is dropped (the test runs as root) and `localhost:8443` is the free
port the test publishes on. The block runs in two parts: up to `docker compose up`, and, once every service is
healthy, the rest; it must leave the admin's token in `$TOKEN`.

Skipped where no Docker engine answers or can be started (tests/system/compose/engine.py), failed instead under
``EKTP_REQUIRE_COMPOSE=1`` (or ``CI=1`` when that is unset; .ci/run sets it). Timings: README, "Deploy with
compose".
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
import random
import re
import shlex
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from services.ops.demo import request_body
from tests.conftest import _required
from tests.support import free_port
from tests.system.compose import standins
from tests.system.compose.engine import Engine, engine
from tests.system.harness import people, wait_until

pytestmark = [
    pytest.mark.compose,
    pytest.mark.slow,
    pytest.mark.xdist_group("compose"),
    # A cold run builds the stand-in images (debootstrap) before the first test: minutes, not seconds.
    pytest.mark.timeout(2400),
]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
README = PROJECT_ROOT / "README.md"
REQUIRE_COMPOSE = _required("EKTP_REQUIRE_COMPOSE")
PROJECT_NAME = "ektp-compose-test"
# What the image build, the stack and the README's steps read from the checkout (the Dockerfile's COPYs,
# compose's mounts and secrets, .env.example).
PROJECT_FILES = [
    "docker-compose.yml", "Dockerfile", ".dockerignore", ".env.example", "deploy", "pyproject.toml", "README.md",
    "alembic.ini", "services", "drivers", "migrations",
]  # fmt: skip
ADMIN_PASSWORD = "kata-sandi-kepala-compose"
STARTUP_TIMEOUT = 420.0  # a cold first start: PostgreSQL's initdb, three migrations, on a busy machine
EMULATORS = ("emulator-1", "emulator-2")
STOCK = 8016  # the emulators' two hoppers (docker-compose.yml), and the README's first tranche


def _fail_or_skip(reason: str) -> None:
    if REQUIRE_COMPOSE:
        pytest.fail(f"{reason}; EKTP_REQUIRE_COMPOSE (or CI) is set")
    pytest.skip(reason)


# ------------------------------------------------------------------------------------------ the README's steps
def readme_compose_steps() -> tuple[list[str], list[str]]:
    """The first shell block of the README's "Deploy with compose" section, as commands (continuation lines joined,
    comment lines dropped), split after `docker compose up`."""
    section = README.read_text().split("## Deploy with compose", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert found, "the README's compose section has no ```sh block"
    commands = [
        line.strip()
        for line in found.group(1).replace("\\\n", " ").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    up = next(i for i, command in enumerate(commands) if command.startswith("docker compose up"))
    return commands[: up + 1], commands[up + 1 :]


def _as_run_here(command: str, compose: list[str], port: int) -> str:
    command = command.replace("docker compose ", shlex.join(compose) + " ")
    if os.geteuid() == 0:
        command = command.replace("sudo ", "")
    return command.replace("localhost:8443", f"localhost:{port}")


# ----------------------------------------------------------------------------------------------- the deployment
@dataclass
class Deployment:
    engine: Engine
    directory: Path
    port: int
    env: dict[str, str]
    services: dict[str, dict[str, Any]]  # docker-compose.yml's services
    token: str = ""
    log: list[str] = field(default_factory=list)  # what the test did, with timings, printed at the end

    # -- commands
    def run(
        self, argv: list[str], *, timeout: float = 600, check: bool = True, quiet: bool = False, **kwargs: Any
    ) -> str:
        started = time.monotonic()
        result = subprocess.run(
            argv, cwd=self.directory, env=self.env, capture_output=True, text=True, timeout=timeout, **kwargs
        )
        if not quiet:
            self.note(f"{shlex.join(argv)[:100]} ({time.monotonic() - started:.0f} s, exit {result.returncode})")
        if check and result.returncode != 0:
            output = f"{result.stdout}\n{result.stderr}"
            raise AssertionError(f"{shlex.join(argv)} exited with {result.returncode}:\n{output}")
        return str(result.stdout)

    def shell(self, commands: list[str], *, stdin: str = "", timeout: float = 900) -> str:
        script = "\n".join(_as_run_here(c, self.engine.compose, self.port) for c in commands)
        return self.run(["bash", "-euo", "pipefail", "-c", script], input=stdin, timeout=timeout)

    def compose(self, *args: str, timeout: float = 600, check: bool = True) -> str:
        return self.run([*self.engine.compose, *args], timeout=timeout, check=check)

    def note(self, line: str) -> None:
        self.log.append(f"{dt.datetime.now():%H:%M:%S} {line}")

    # -- containers
    def containers(self) -> dict[str, dict[str, Any]]:
        """The project's containers (not `run` ones) by service: status, health, exit code, restarts, id."""
        label = f"label=com.docker.compose.project={PROJECT_NAME}"
        ids = self.run(["docker", "ps", "-a", "-q", "--filter", label], quiet=True).split()
        found: dict[str, dict[str, Any]] = {}
        if not ids:
            return found
        for item in json.loads(self.run(["docker", "inspect", *ids], quiet=True)):
            labels = item["Config"]["Labels"]
            if labels.get("com.docker.compose.oneoff", "False") == "True":
                continue
            state = item["State"]
            found[labels["com.docker.compose.service"]] = {
                "id": item["Id"],
                "status": state["Status"],
                "health": (state.get("Health") or {}).get("Status"),
                "exit": state["ExitCode"],
                "restarts": item["RestartCount"],
            }
        return found

    def not_up(self) -> dict[str, str]:
        """Each service not (yet) as it should be: a one-shot job exited 0, the others running and healthy."""
        containers = self.containers()
        waiting = {}
        for name, service in self.services.items():
            state = containers.get(name)
            if state is None:
                waiting[name] = "no container"
            elif service.get("restart") == "no":
                if state["status"] != "exited" or state["exit"] != 0:
                    waiting[name] = f"{state['status']} (exit {state['exit']})"
            elif state["status"] != "running" or ("healthcheck" in service and state["health"] != "healthy"):
                waiting[name] = f"{state['status']} ({state['health']})"
        return waiting

    def wait_up(self, timeout: float = STARTUP_TIMEOUT) -> None:
        started = time.monotonic()
        try:
            wait_until(lambda: not self.not_up(), timeout=timeout, interval=2, what="every service up and healthy")
        except TimeoutError as exc:
            raise AssertionError(f"{exc}: {self.not_up()}\n{self.logs_tail()}") from None
        self.note(f"every service up and healthy after {time.monotonic() - started:.0f} s")

    def logs_tail(self, lines: int = 40) -> str:
        return self.compose("logs", "--no-color", "--tail", str(lines), check=False, timeout=120)

    # -- the API, through the proxy's published port
    def client(self) -> httpx.Client:
        context = ssl.create_default_context(cafile=str(self.directory / "ektp-root.crt"))
        return httpx.Client(
            base_url=f"https://localhost:{self.port}/api",
            verify=context,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=30,
        )

    def submit(self, count: int, *, seed: int) -> list[str]:
        rng = random.Random(seed)
        ids = []
        with self.client() as client:
            for person in people(count, seed=seed, first_serial=seed * 1000):
                body = request_body(person, rng, channel="walk_in", reason="first_card")
                response = client.post(
                    "/request/v1/requests", json=body, headers={"Idempotency-Key": f"compose-{person.nik}"}
                )
                assert response.status_code == 201, response.text
                ids.append(response.json()["id"])
        return ids

    def statuses(self, ids: list[str]) -> collections.Counter[str]:
        with self.client() as client:
            return collections.Counter(client.get(f"/request/v1/requests/{i}").json()["status"] for i in ids)

    def wait_printed(self, ids: list[str], *, timeout: float) -> None:
        started = time.monotonic()
        try:
            wait_until(lambda: self.statuses(ids) == {"printed": len(ids)}, timeout=timeout, interval=2,
                       what=f"{len(ids)} requests printed")  # fmt: skip
        except TimeoutError as exc:
            raise AssertionError(f"{exc}: {self.statuses(ids)}\n{self.logs_tail()}") from None
        self.note(f"{len(ids)} requests printed after {time.monotonic() - started:.0f} s")

    # -- the emulators, through their control API inside their containers (it listens on loopback there)
    def control(self, emulator: str, what: str) -> Any:
        out = self.run([
            *self.engine.compose, "exec", "-T", emulator, "python", "-m", "drivers.emulator.control_client",
            "http://127.0.0.1:9201", "--token-file", "/app/data/emulator/control-token", what,
        ], quiet=True)  # fmt: skip
        return json.loads(out)

    def card_log(self) -> list[dict[str, Any]]:
        return [card for emulator in EMULATORS for card in self.control(emulator, "log")]

    def blanks_left(self) -> int:
        return sum(int(self.control(emulator, "state")["blanks_left"]) for emulator in EMULATORS)

    def job_requests(self) -> dict[str, str]:
        jobs: dict[str, str] = {}
        with self.client() as client:
            while True:
                page = client.get("/gateway/v1/jobs", params={"limit": 500, "offset": len(jobs)}).json()
                jobs |= {job["id"]: job["request_id"] for job in page["items"]}
                if not page["items"] or len(jobs) >= page["total"]:
                    return jobs

    def invariant(self) -> dict[str, Any]:
        with self.client() as client:
            response = client.get("/inventory/v1/stock/invariant")
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        return body

    def assert_every_request_printed_once(self, ids: list[str]) -> None:
        """Each request printed, on exactly one card of the emulators' logs; the ledger balanced and agreeing."""
        assert self.statuses(ids) == {"printed": len(ids)}
        cards = [card for card in self.card_log() if not card["test"]]
        assert all(card["outcome"] == "printed" for card in cards), cards
        jobs = self.job_requests()
        per_request = collections.Counter(jobs.get(card["job"], "?") for card in cards)
        assert per_request["?"] == 0, "a card printed for a job the gateway does not know"
        assert {r: n for r, n in per_request.items() if n > 1} == {}, "a request printed twice"
        assert set(ids) <= set(per_request)
        invariant = self.invariant()
        assert invariant["holds"] is True, invariant
        assert invariant["problems"] == [], invariant
        assert invariant["reserved"] == 0, invariant
        assert invariant["consumed"] == len(cards), invariant

    def kill(self, service: str) -> None:
        container = self.containers()[service]["id"]
        self.run(["docker", "kill", "--signal", "KILL", container])
        wait_until(lambda: self.containers()[service]["status"] == "exited", timeout=30, what=f"{service} dead")
        assert self.containers()[service]["exit"] == 137


def _copy_project(directory: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in PROJECT_FILES:
        source = PROJECT_ROOT / name
        if source.is_dir():
            shutil.copytree(source, directory / name, ignore=ignore)
        else:
            shutil.copy2(source, directory / name)


@pytest.fixture(scope="module")
def docker_engine() -> Iterator[Engine]:
    found = engine()
    if isinstance(found, str):
        _fail_or_skip(f"no Docker engine: {found}")
        raise AssertionError("unreachable")
    try:
        yield found
    finally:
        found.close()


@pytest.fixture(scope="module")
def deployment(docker_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    started = time.monotonic()
    try:
        images = standins.build_all()
    except standins.StandInUnavailable as exc:
        _fail_or_skip(str(exc))
        raise
    directory = tmp_path_factory.mktemp("compose") / "ektp-print"
    directory.mkdir()
    _copy_project(directory)
    env = {
        **os.environ,
        **images,
        "COMPOSE_PROJECT_NAME": PROJECT_NAME,
        "HTTPS_PORT": str(free_port()),
        "ADMIN_PASSWORD": ADMIN_PASSWORD,
    }
    services = yaml.safe_load((directory / "docker-compose.yml").read_text())["services"]
    sut = Deployment(docker_engine, directory, int(env["HTTPS_PORT"]), env, services)
    sut.note(f"stand-in images ready after {time.monotonic() - started:.0f} s: {images}")
    # What an earlier run that was killed may have left.
    sut.compose("down", "--volumes", "--remove-orphans", check=False)
    before_up, after_up = readme_compose_steps()
    try:
        sut.shell(before_up)
        sut.wait_up()
        out = sut.shell([*after_up, 'printf "\\nTOKEN=%s\\n" "$TOKEN"'], stdin=f"{ADMIN_PASSWORD}\n")
        sut.token = out.rsplit("TOKEN=", 1)[1].strip()
        assert sut.token.count(".") == 2, out
        sut.note(f"the README's steps done {time.monotonic() - started:.0f} s after the start")
        yield sut
    finally:
        (directory / "compose.log").write_text(sut.compose("logs", "--no-color", check=False, timeout=300))
        sut.compose("down", "--volumes", "--remove-orphans", check=False)
        print("\n".join(["", "compose test:", *sut.log, f"logs: {directory / 'compose.log'}"]))


# ------------------------------------------------------------------------------------------------------- tests
def test_every_service_comes_up_healthy_and_only_the_proxy_publishes_a_port(deployment: Deployment) -> None:
    assert deployment.not_up() == {}
    ports = {}
    for name, state in deployment.containers().items():
        inspected = json.loads(deployment.run(["docker", "inspect", state["id"]], quiet=True))[0]
        published = {k: v for k, v in (inspected["NetworkSettings"]["Ports"] or {}).items() if v}
        if published:
            ports[name] = published
    assert list(ports) == ["proxy"]
    assert {binding["HostPort"] for binding in ports["proxy"]["443/tcp"]} == {str(deployment.port)}
    # The services answer only through the proxy, which refuses their metrics.
    with deployment.client() as client:
        for service in ("request", "inventory", "gateway"):
            assert client.get(f"/{service}/readyz").status_code == 200
            assert client.get(f"/{service}/metrics").status_code == 404
        printers = client.get("/gateway/v1/printers").json()
    assert sorted((p["name"], p["state"]) for p in printers) == [("printer-1", "ready"), ("printer-2", "ready")]


def test_the_first_staff_account_signs_in_through_the_proxy_where_the_console_is(deployment: Deployment) -> None:
    """The account the README's `ektp user add` made signs in, as the console does, on the proxy's one origin."""
    context = ssl.create_default_context(cafile=str(deployment.directory / "ektp-root.crt"))
    with httpx.Client(base_url=f"https://localhost:{deployment.port}", verify=context, timeout=30) as browser:
        console = browser.get("/", follow_redirects=True)
        signed_in = browser.post(
            "/api/request/v1/auth/token",
            data={"grant_type": "password", "username": "kepala", "password": ADMIN_PASSWORD},
        )
    assert console.status_code == 200
    assert str(console.url).endswith("/console/")
    assert console.headers["strict-transport-security"].startswith("max-age=")
    assert signed_in.status_code == 200, signed_in.text
    with deployment.client() as client:
        client.headers["Authorization"] = f"Bearer {signed_in.json()['access_token']}"
        assert client.get("/gateway/v1/printers").status_code == 200


def test_a_request_submitted_through_the_published_port_is_printed_by_an_emulator(deployment: Deployment) -> None:
    ids = deployment.submit(4, seed=1)
    deployment.wait_printed(ids, timeout=180)
    deployment.assert_every_request_printed_once(ids)


def test_printing_resumes_with_nothing_lost_after_the_gateway_is_killed(deployment: Deployment) -> None:
    ids = deployment.submit(16, seed=2)
    wait_until(lambda: deployment.statuses(ids)["printed"] >= 2, timeout=120, what="printing under way")
    deployment.kill("gateway")
    assert deployment.statuses(ids)["printed"] < len(ids), "all printed before the kill: nothing was tested"
    deployment.compose("up", "-d")  # what brings a stopped service back (the README)
    deployment.wait_up()
    deployment.wait_printed(ids, timeout=300)
    deployment.assert_every_request_printed_once(ids)


# Open defects the real start showed, in services/ code (outside this test's reach; the release note has them).
STUCK_AFTER_DATABASE_RESTART = (
    "services/gateway/dispatch/card.py CardSteps.prepare: an exception other than NoBlanks/PeerAnswer after the "
    "claim (the journal's advance while PostgreSQL restarts) leaves the LeaseKeeper renewing and the job neither "
    "handed back nor printed; the worker starts again without it, so the request stays `printing` and its blank "
    "`reserved` until the gateway restarts (its start-up recovery hands the job back)"
)
TEST_CARDS_NOT_COUNTED = (
    "services/gateway/dispatch/dispatcher.py Dispatcher._account_test_card: commissioning prints a self-test card "
    "on a blank from the hopper and records it at the inventory best effort, once; compose commissions the "
    "printers at start, before the README's first tranche exists (409 no-blanks), so the two test cards' serials "
    "stay `available` in the ledger for good (ektp up receives its tranche first)"
)


def test_printing_resumes_with_nothing_lost_after_postgresql_is_killed(deployment: Deployment) -> None:
    ids = deployment.submit(16, seed=3)
    wait_until(lambda: deployment.statuses(ids)["printed"] >= 2, timeout=120, what="printing under way")
    left = len(ids) - deployment.statuses(ids)["printed"]  # asked before: the request service needs its database
    deployment.kill("postgres")
    assert left > 2, "(nearly) all printed before the kill: nothing was tested"
    deployment.compose("up", "-d")
    deployment.wait_up()
    try:
        deployment.wait_printed(ids, timeout=180)
        stuck: collections.Counter[str] = collections.Counter()
    except AssertionError:
        stuck = deployment.statuses(ids)
        if set(stuck) != {"printed", "printing"}:
            raise
        # The known defect: the workaround is a restart of the gateway, whose recovery hands the jobs back.
        deployment.note(f"stuck after PostgreSQL came back: {dict(stuck)}; restarting the gateway")
        deployment.compose("restart", "gateway")
        deployment.wait_up()
        deployment.wait_printed(ids, timeout=300)
    deployment.assert_every_request_printed_once(ids)
    if stuck:
        pytest.xfail(f"{stuck['printing']} requests stuck in `printing` until the gateway restarted: "
                     f"{STUCK_AFTER_DATABASE_RESTART}")  # fmt: skip


@pytest.mark.xfail(strict=True, reason=TEST_CARDS_NOT_COUNTED)
def test_the_ledger_counts_the_blanks_the_printers_hold(deployment: Deployment) -> None:
    cards = deployment.card_log()
    invariant = deployment.invariant()
    assert invariant["received"] == STOCK
    assert deployment.blanks_left() == STOCK - len(cards)
    assert invariant["available"] + invariant["reserved"] == deployment.blanks_left()


def test_compose_down_leaves_nothing_behind(deployment: Deployment) -> None:
    deployment.compose("down", "--volumes", "--remove-orphans")
    label = f"label=com.docker.compose.project={PROJECT_NAME}"
    assert deployment.run(["docker", "ps", "-a", "-q", "--filter", label]).split() == []
    assert deployment.run(["docker", "volume", "ls", "-q", "--filter", label]).split() == []
    assert deployment.run(["docker", "network", "ls", "-q", "--filter", label]).split() == []
