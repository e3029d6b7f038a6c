"""``ektp up``: the whole system on the embedded default, as child processes, until Ctrl-C.

On every start: the development key pair and the data keys (the request service seals photos and signatures
with them) under ``<data>/keys`` (made on first start, 0600), each service's SQLite database migrated, two
emulated card printers (their hoppers, ribbons and card logs kept under ``<data>/emulators``), the three
services, a wait until each answers ``/readyz``; on first start the printers are registered and commissioned and
a tranche of blanks is received. Then it prints the URLs and an
operator token, and writes them to ``<data>/stack.json`` for programs (the end-to-end tests read it).

The stack knows where things are (a ``StackLayout``: URLs, files, the service token, the printers); each
service's ``Settings.for_stack`` says which of its settings follow from that, so a new setting needs no edit here.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from services.common.auth import MAX_TTL, Role, ensure_key_pair, issue_token
from services.common.migrate import SERVICES, upgrade
from services.common.settings import DATA_DIR, ServiceSettings, StackLayout
from services.request.privacy.keys import create_keys_file

__all__ = ["StackOptions", "ephemeral_port_range", "run_stack", "settings_class", "wait_healthy"]

STARTUP_DEADLINE_S = 60.0
REFERENCE_STOCK = 8016  # blanks the reference office held (Pesawaran, January 2015)


@dataclass
class StackOptions:
    host: str = "127.0.0.1"
    base_port: int = 8001
    printer_port: int = 9101
    printers: int = 2
    blanks: int = REFERENCE_STOCK
    time_scale: float = 20.0
    output_capacity: int = 100
    data_dir: Path = DATA_DIR
    demo: bool = False
    demo_residents: int = 60

    @property
    def key_dir(self) -> Path:
        return self.data_dir / "keys"

    def port(self, service: str) -> int:
        return self.base_port + SERVICES.index(service)

    def ports(self) -> list[int]:
        """Every port the stack listens on: the services', the emulators' and their control ports."""
        emulators = [self.printer_port + i for i in range(self.printers)]
        return [self.port(s) for s in SERVICES] + emulators + [p + 100 for p in emulators]

    def ephemeral_ports(self) -> list[int]:
        """The stack's ports inside the kernel's ephemeral range (see ``ephemeral_port_range``)."""
        low, high = ephemeral_port_range()
        return [p for p in self.ports() if low <= p <= high]

    def url(self, service: str) -> str:
        return f"http://{self.host}:{self.port(service)}"


@dataclass
class Child:
    """One child process, with what it takes to start it again after a crash."""

    name: str
    argv: list[str]
    env: dict[str, str] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    restarts: list[float] = field(default_factory=list)
    process: subprocess.Popen[bytes] = field(init=False)

    def start(self) -> Child:
        reads_endpoint = self.argv[3:4] == ["emulator"]
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            self.argv, env=self.env, stdout=subprocess.PIPE if reads_endpoint else None
        )
        if reads_endpoint:
            self.info = _read_endpoint(self.process)
        return self

    def restart_allowed(self, *, window_s: float = 60.0, limit: int = 5) -> bool:
        now = time.monotonic()
        self.restarts = [t for t in self.restarts if now - t < window_s] + [now]
        return len(self.restarts) <= limit


def ephemeral_port_range() -> tuple[int, int]:
    """The ports the kernel hands out as source ports of outgoing connections (Linux's default if unknown).

    A child restarted by ``ektp up`` binds its port again. On a port in this range, a client that keeps dialling
    the stopped child can be given that very port as its own source port and connect to itself (TCP
    simultaneous open); the restart then fails with "address already in use".
    """
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def wait_healthy(
    url: str, *, deadline_s: float = STARTUP_DEADLINE_S, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll ``url``/readyz until it answers 200; raise if the deadline passes or the process dies."""
    until = time.monotonic() + deadline_s
    while time.monotonic() < until:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not become ready within {deadline_s:.0f} s")


def _serial(number: int) -> str:
    return f"KTP{number:08d}"


def _printer_serial_ranges(options: StackOptions) -> list[tuple[int, int]]:
    """The tranche's blanks, split over the printers' input hoppers (the office loads each printer)."""
    share, extra = divmod(options.blanks, options.printers)
    ranges, first = [], 1
    for i in range(options.printers):
        count = share + (1 if i < extra else 0)
        ranges.append((first, first + count - 1))
        first += count
    return ranges


def _start_emulators(options: StackOptions) -> list[Child]:
    children = []
    for i, (first, last) in enumerate(_printer_serial_ranges(options)):
        name = f"printer-{i + 1}"
        argv = [
            sys.executable, "-m", "services.ops.cli", "emulator",
            "--name", name,
            "--host", options.host,
            "--port", str(options.printer_port + i),
            "--control-port", str(options.printer_port + 100 + i),
            "--time-scale", str(options.time_scale),
            "--state-dir", str(options.data_dir / "emulators" / name),
            "--serials", f"{_serial(first)}-{_serial(last)}",
            "--output-capacity", str(options.output_capacity),
            "--log-level", "WARNING",
        ]  # fmt: skip
        children.append(Child(name, argv).start())
    return children


def _read_endpoint(process: subprocess.Popen[bytes]) -> dict[str, Any]:
    """The emulator's JSON line (its URL, control URL, …), read from its stdout."""
    stdout: IO[bytes] | None = process.stdout
    assert stdout is not None
    for raw in stdout:
        line = raw.decode().strip()
        if line.startswith("{"):
            info: dict[str, Any] = json.loads(line)
            # Keep draining its stdout so that a chatty emulator can never block on a full pipe.
            threading.Thread(target=stdout.read, daemon=True).start()
            return info
    raise RuntimeError(f"the emulator exited with {process.wait()} before it listened")


def settings_class(service: str) -> type[ServiceSettings]:
    """The service's settings class (``services/<service>/config.py``)."""
    settings_cls: type[ServiceSettings] = importlib.import_module(f"services.{service}.config").Settings
    return settings_cls


def _layout(options: StackOptions, service_token: str, printers: list[Child]) -> StackLayout:
    """What the services' settings are derived from: each declares its own in ``Settings.for_stack``."""
    console = options.url("request")
    return StackLayout(
        urls={service: options.url(service) for service in SERVICES},
        data_dir=options.data_dir,
        key_dir=options.key_dir,
        service_token=service_token,
        console_origins=[console, console.replace("127.0.0.1", "localhost")],
        printers=[(p.name, p.info["url"]) for p in printers],
    )


def _service_env(settings_cls: type[ServiceSettings], layout: StackLayout) -> dict[str, str]:
    """Our environment plus the service's stack settings; a variable already set wins."""
    env = dict(os.environ)
    for name, value in settings_cls.stack_env(layout).items():
        env.setdefault(name, value)
    return env


def _start_service(service: str, options: StackOptions, env: dict[str, str]) -> Child:
    argv = [
        sys.executable, "-m", "services.ops.cli", "serve", service,
        "--host", options.host, "--port", str(options.port(service)),
    ]  # fmt: skip
    return Child(service, argv, env).start()


def _receive_reference_tranche(options: StackOptions, token: str) -> None:
    """The office's stock as one tranche; the reference makes a second start a no-op (idempotent)."""
    body = {
        "reference": "DEV-TRANCHE-1",
        "received_on": dt.date.today().isoformat(),
        "received_by": "ektp up",
        "ranges": [{"first": _serial(1), "last": _serial(options.blanks)}],
    }
    response = httpx.post(
        f"{options.url('inventory')}/v1/tranches", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    if response.status_code not in (200, 201):
        raise RuntimeError(f"receiving the tranche failed: {response.status_code} {response.text}")


def _first_admin(options: StackOptions, private_pem: bytes) -> dict[str, str] | None:
    """On first start, the console's first staff account: ``admin`` with a random password (shown once, and kept
    in the private ``stack.json`` for programs); None when it exists already. More accounts: the console or
    ``ektp user add``; a new password: ``ektp user passwd admin``."""
    token = issue_token(private_pem, role=Role.ADMIN, subject="ektp up", ttl=dt.timedelta(minutes=5))
    account = {"username": "admin", "password": secrets.token_urlsafe(12), "role": "admin", "full_name": "Admin"}
    response = httpx.post(
        f"{options.url('request')}/v1/users", json=account, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    if response.status_code == 409:
        return None
    if response.status_code != 201:
        raise RuntimeError(f"making the first staff account failed: {response.status_code} {response.text}")
    return {"username": account["username"], "password": account["password"]}


def _wait_printers_ready(
    options: StackOptions, token: str, count: int, deadline_s: float = 60.0
) -> list[dict[str, Any]]:
    until = time.monotonic() + deadline_s
    printers: list[dict[str, Any]] = []
    while time.monotonic() < until:
        response = httpx.get(
            f"{options.url('gateway')}/v1/printers", headers={"Authorization": f"Bearer {token}"}, timeout=5
        )
        if response.status_code == 200:
            body = response.json()
            printers = body["items"] if isinstance(body, dict) else body
            if sum(1 for p in printers if p.get("state") in ("ready", "idle", "processing")) >= count:
                return printers
        time.sleep(0.2)
    raise TimeoutError(f"the printers were not commissioned within {deadline_s:.0f} s: {printers}")


def write_stack_file(options: StackOptions, info: dict[str, Any], children: list[Child]) -> None:
    """``<data>/stack.json`` (mode 0600): URLs, printers, the operator token and each child's current pid."""
    info["pids"] = {child.name: child.process.pid for child in children}
    temporary = options.data_dir / "stack.json.tmp"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # also when an older, looser file was left behind
    with os.fdopen(descriptor, "w") as file:
        file.write(json.dumps(info, indent=2))
    temporary.replace(options.data_dir / "stack.json")


def _make_private(data_dir: Path) -> None:
    """Create the data directory with mode 0700, or take an existing one back from group and others.

    It holds the private key, the databases, the emulators' control tokens and ``stack.json`` (an operator
    token). A directory left open by an older version or a plain ``mkdir`` is fixed, with a note, rather than
    refused: it is ours. Files made from now on are private through ``run_stack``'s umask.
    """
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    if data_dir.stat().st_mode & 0o077:
        print(f"ektp up: {data_dir} was open to other users; now only you can read it (mode 0700)", file=sys.stderr)
        data_dir.chmod(0o700)
    for path in [*data_dir.glob("*.db"), *data_dir.glob("*.db-*"), data_dir / "stack.json"]:
        if path.is_file() and not path.is_symlink() and path.stat().st_mode & 0o077:
            path.chmod(0o600)


@contextlib.contextmanager
def stack(options: StackOptions) -> Iterator[tuple[dict[str, Any], list[Child]]]:
    """Start everything; yield what ``stack.json`` holds and the children; stop them (SIGTERM, then SIGKILL)."""
    _make_private(options.data_dir)
    private_key, _ = ensure_key_pair(options.key_dir)
    ensure_key_pair(options.key_dir, "staff")  # the request service signs staff sign-ins with it
    create_keys_file(options.key_dir / "data-keys.json")  # where request's Settings.for_stack looks for it
    private_pem = private_key.read_bytes()
    service_token = issue_token(private_pem, role=Role.SERVICE, subject="gateway", ttl=dt.timedelta(days=365))
    operator_token = issue_token(
        private_pem, role=Role.OPERATOR, subject="operator-console", ttl=MAX_TTL[Role.OPERATOR]
    )
    children: list[Child] = []
    try:
        printers = _start_emulators(options)
        children += printers
        layout = _layout(options, service_token, printers)
        for service in SERVICES:
            settings_cls = settings_class(service)
            env = _service_env(settings_cls, layout)
            upgrade(service, env[settings_cls.env_name("database_url")])
            if service == "gateway":
                # The stock first: commissioning prints a test card, whose blank the inventory records.
                _receive_reference_tranche(options, operator_token)
            children.append(_start_service(service, options, env))
            wait_healthy(options.url(service), process=children[-1].process)
        _wait_printers_ready(options, operator_token, len(printers))
        first_admin = _first_admin(options, private_pem)
        if options.demo:
            from services.ops.demo import load_demo

            load_demo({s: options.url(s) for s in SERVICES}, private_pem, residents_count=options.demo_residents)
        info = {
            "urls": {service: options.url(service) for service in SERVICES},
            "printers": {p.name: p.info for p in printers},
            "operator_token": operator_token,
            **({"first_admin": first_admin} if first_admin else {}),
        }
        write_stack_file(options, info, children)
        yield info, children
    finally:
        for child in reversed(children):
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for child in reversed(children):
            try:
                child.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.process.kill()


def run_stack(options: StackOptions) -> int:
    """``ektp up``: start, print the URLs and a token, and run until Ctrl-C or SIGTERM.

    A child that dies is started again (like compose's ``restart: unless-stopped``), at most five times a
    minute; the services recover their own state (leases, journal, reservations) when they come back.
    """
    # Whatever ektp up and its children create is for this user only: the SQLite files (and the -wal and -shm
    # files SQLite adds beside them), the keys, the emulators' state and tokens, stack.json.
    os.umask(0o077)
    stop = False

    def _on_sigterm(_signum: int, _frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _on_sigterm)
    if inside := options.ephemeral_ports():
        low, high = ephemeral_port_range()
        print(
            f"warning: ports {', '.join(map(str, inside))} lie in the ephemeral range {low}-{high}; a service "
            "restarted after a crash may find its port taken. Choose --base-port and --printer-port below it.",
            file=sys.stderr,
        )
    try:
        with stack(options) as (info, children):
            print("\nektp-print is up (Ctrl-C stops it):")
            print(f"  console    {info['urls']['request']}/console/  (sign in with a staff account)")
            for service, url in info["urls"].items():
                print(f"  {service:<10} {url}  (API docs: {url}/docs)")
            for name, printer in info["printers"].items():
                control = f"{printer['control']}, token in {printer['control_token_file']}"
                print(f"  {name:<10} {printer['url']}  (emulator control: {control})")
            if "first_admin" in info:
                admin = info["first_admin"]
                print(f"\nfirst sign-in: {admin['username']} / {admin['password']}  (shown this once)")
                print("  more staff: in the console, or ektp user add NAME --role operator")
            print(f"\noperator token for scripts (valid 7 days):\n{info['operator_token']}\n", flush=True)
            print(f"ready: {options.data_dir / 'stack.json'}", flush=True)
            while not stop:
                time.sleep(0.3)
                for child in children:
                    if child.process.poll() is None or stop:
                        continue
                    if not child.restart_allowed():
                        print(f"{child.name} keeps stopping; shutting down", file=sys.stderr)
                        return 1
                    print(f"{child.name} stopped ({child.process.returncode}); starting it again", file=sys.stderr)
                    child.start()
                    write_stack_file(options, info, children)
    except KeyboardInterrupt:
        pass
    return 0
