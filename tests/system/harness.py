"""The whole system started the way a user starts it (``ektp up``), driven through its public APIs.

``SystemUnderTest`` runs ``ektp up`` as a child process with its own data directory and free ports, reads
``stack.json`` (URLs, printers, pids), mints tokens from the stack's key pair, and offers the checks the
system tests share: every request accounted for, no card printed twice, the blank-card ledger balanced.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from drivers.emulator.control_client import control_headers
from services.common.auth import Role, issue_token
from services.ops.demo import Resident, request_body, residents
from tests.support import free_port_block

__all__ = ["Accounting", "SystemUnderTest"]


def wait_until(condition: Any, *, timeout: float, interval: float = 0.1, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what} (last: {last!r})")


@dataclass
class Accounting:
    """What a run ended with, from the APIs and the emulators' card logs."""

    submitted: int
    by_status: Counter[str]
    cards_out: int
    duplicate_requests: list[str]
    unmatched_cards: list[str]
    invariant: dict[str, Any]
    consumed: int

    @property
    def lost(self) -> int:
        accounted = sum(self.by_status[s] for s in ("printed", "activated", "collected", "needs_review"))
        return self.submitted - accounted


@dataclass
class SystemUnderTest:
    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    printers: int = 2
    blanks: int | None = 600  # None: ektp up's default (8,016, the reference office's stock)
    time_scale: float = 2000.0
    # Nobody empties the output trays during a test run: make them hold the whole run.
    output_capacity: int = 2000
    extra_args: tuple[str, ...] = ()
    process: subprocess.Popen[bytes] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    # ----------------------------------------------------------------------------------------- lifecycle
    def start(self, *, timeout: float = 120.0) -> SystemUnderTest:
        base = free_port_block(3)
        printer_port = free_port_block(self.printers + 100)
        argv = [
            sys.executable, "-m", "services.ops.cli", "up",
            "--data-dir", str(self.data_dir), "--base-port", str(base), "--printer-port", str(printer_port),
            "--printers", str(self.printers), "--time-scale", str(self.time_scale),
            "--output-capacity", str(self.output_capacity), *self.extra_args,
        ]  # fmt: skip
        if self.blanks is not None:
            argv += ["--blanks", str(self.blanks)]
        env = {**os.environ, "EKTP_LOG_LEVEL": "WARNING", **self.env}
        for service in ("REQUEST", "INVENTORY", "GATEWAY"):
            env.setdefault(f"EKTP_{service}_LOG_LEVEL", "WARNING")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with (self.data_dir / "up.log").open("ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(argv, env=env, stdout=log, stderr=log)
        stack_file = self.data_dir / "stack.json"
        wait_until(lambda: stack_file.exists() or self.process.poll() is not None, timeout=timeout, what="ektp up")
        if self.process.poll() is not None:
            raise RuntimeError(f"ektp up exited with {self.process.returncode}:\n{self.log_tail()}")
        self.reload()
        return self

    def reload(self) -> dict[str, Any]:
        self.info = json.loads((self.data_dir / "stack.json").read_text())
        return self.info

    def stop(self) -> int | None:
        """Ctrl-C, as a user stops it; returns ``ektp up``'s exit code (None if it had to be killed)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                return None
        return self.process.returncode

    def children_alive(self) -> list[str]:
        """The children (services, emulators) of the last stack.json whose process still runs."""
        alive = []
        for name, pid in self.info.get("pids", {}).items():
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                continue
            alive.append(name)
        return alive

    def log_tail(self, lines: int = 60) -> str:
        path = self.data_dir / "up.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def kill(self, name: str) -> int:
        """SIGKILL one child (a service or an emulator); ``ektp up`` starts it again. Returns the old pid."""
        pid = int(self.reload()["pids"][name])
        os.kill(pid, signal.SIGKILL)
        wait_until(lambda: self.reload()["pids"][name] != pid, timeout=30, what=f"{name} restarted")
        return pid

    # ------------------------------------------------------------------------------------------ clients
    def token(self, role: str, *, scope: list[str] | None = None, subject: str | None = None) -> str:
        key = (self.data_dir / "keys" / "jwt-private.pem").read_bytes()
        return issue_token(key, role=Role(role), subject=subject or f"{role}-e2e", scope=scope or ())

    def staff_account(self, username: str, role: str = "operator", **fields: Any) -> str:
        """A staff account (made by an admin through the API, as the console does), and its password."""
        password = f"{username}-kata-sandi"
        with self.client("request", "admin") as admin:
            body = {"username": username, "password": password, "role": role, **fields}
            made = admin.post("/v1/users", json=body)
            if made.status_code == 409:
                made = admin.patch(f"/v1/users/{username}", json={"password": password})
            assert made.status_code in (200, 201), made.text
        return password

    def console_sign_in(self, browser: Any, username: str, password: str) -> None:
        """Sign in at the console's form as a member of staff does (once the page has shown the form: on a loaded
        machine a reload may still be under way)."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(browser, 20).until(expected_conditions.element_to_be_clickable((By.ID, "username")))
        browser.find_element(By.ID, "username").send_keys(username)
        browser.find_element(By.ID, "password").send_keys(password)
        browser.find_element(By.CSS_SELECTOR, "#signin-form button").click()

    def client(self, service: str, role: str = "operator", **token_args: Any) -> httpx.Client:
        return httpx.Client(
            base_url=self.info["urls"][service],
            headers={"Authorization": f"Bearer {self.token(role, **token_args)}"},
            timeout=30,
        )

    def wait_ready(self, service: str, *, timeout: float = 60) -> None:
        url = self.info["urls"][service]

        def ready() -> bool:
            try:
                return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(ready, timeout=timeout, what=f"{service} ready")

    # ------------------------------------------------------------------------------------------- intake
    def submit(self, people: list[Resident], *, urgent_every: int = 0, seed: int = 0) -> list[str]:
        """Walk-in requests for ``people`` (every ``urgent_every``-th urgent); returns the request ids."""
        rng = random.Random(seed)
        ids = []
        with self.client("request") as client:
            for i, person in enumerate(people):
                urgent = urgent_every and i % urgent_every == 0
                body = request_body(person, rng, channel="walk_in", reason="health" if urgent else "first_card")
                response = client.post("/v1/requests", json=body, headers={"Idempotency-Key": f"e2e-{person.nik}"})
                assert response.status_code in (200, 201), response.text
                ids.append(response.json()["id"])
        return ids

    # ------------------------------------------------------------------------------------------- checks
    def card_log(self) -> list[dict[str, Any]]:
        cards = []
        for printer in self.reload()["printers"].values():
            # The token file, not a copy: an emulator that ektp up started again made a new token.
            headers = control_headers(printer["control_token_file"])
            response = httpx.get(f"{printer['control']}/log", headers=headers, timeout=10)
            response.raise_for_status()
            cards += response.json()
        return cards

    def requests_by_status(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        found = {}
        with self.client("request") as client:
            for request_id in ids:
                response = client.get(f"/v1/requests/{request_id}")
                response.raise_for_status()
                found[request_id] = response.json()
        return found

    def account(self, ids: list[str]) -> Accounting:
        requests = self.requests_by_status(ids)
        # Cards handed out: printed, not a commissioning test card (rejected cards went to the reject box).
        cards = [c for c in self.card_log() if not c["test"] and c["outcome"] == "printed"]
        with self.client("gateway") as gateway:
            job_request = {}
            offset = 0
            while True:
                page = gateway.get("/v1/jobs", params={"limit": 500, "offset": offset}).json()
                for job in page["items"]:
                    job_request[job["id"]] = job["request_id"]
                offset += len(page["items"])
                if not page["items"] or offset >= page["total"]:
                    break
        per_request = Counter(job_request.get(c["job"], "?") for c in cards)
        with self.client("inventory") as inventory:
            invariant = inventory.get("/v1/stock/invariant").json()
        return Accounting(
            submitted=len(ids),
            by_status=Counter(r["status"] for r in requests.values()),
            cards_out=len(cards),
            duplicate_requests=[r for r, n in per_request.items() if n > 1 and r != "?"],
            unmatched_cards=[c["serial"] for c in cards if c["job"] not in job_request],
            invariant=invariant,
            consumed=int(invariant.get("consumed", -1)),
        )


def people(count: int, *, seed: int, kecamatan: str | None = None, first_serial: int = 1) -> list[Resident]:
    """Made-up adult residents with well-formed NIKs; distinct ``first_serial`` ranges never share a NIK."""
    return list(residents(count, seed=seed, today=dt.date(2026, 11, 1), kecamatan=kecamatan, first_serial=first_serial))
