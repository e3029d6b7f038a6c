"""``ektp up``: the whole system on the embedded default, as child processes, until Ctrl-C.

Creates the development key pair under ./data on first start, migrates each service's SQLite database,
starts the services, waits until each answers ``/healthz``, then prints the URLs and an operator token.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

import httpx

from services.common.auth import Role, ensure_key_pair, issue_token
from services.common.migrate import SERVICES, upgrade
from services.common.settings import DATA_DIR, default_sqlite_url

__all__ = ["ServiceProcess", "run_stack", "wait_healthy"]

KEY_DIR = DATA_DIR / "keys"
STARTUP_DEADLINE_S = 60.0


@dataclass
class ServiceProcess:
    name: str
    url: str
    process: subprocess.Popen[bytes]


def wait_healthy(
    url: str, *, deadline_s: float = STARTUP_DEADLINE_S, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll ``url``/healthz until it answers 200; raise if the deadline passes or the process dies."""
    until = time.monotonic() + deadline_s
    while time.monotonic() < until:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not become healthy within {deadline_s:.0f} s")


def _service_env(service: str) -> dict[str, str]:
    prefix = f"EKTP_{service.upper()}_"
    env = dict(os.environ)
    env.setdefault(prefix + "DATABASE_URL", default_sqlite_url(service))
    env.setdefault(prefix + "JWT_PUBLIC_KEY_FILE", str(KEY_DIR / "jwt-public.pem"))
    return env


def run_stack(*, host: str = "127.0.0.1", base_port: int = 8001, demo: bool = False) -> int:
    private_key, _ = ensure_key_pair(KEY_DIR)
    ports = {service: base_port + i for i, service in enumerate(SERVICES)}
    for service in SERVICES:
        upgrade(service, _service_env(service)[f"EKTP_{service.upper()}_DATABASE_URL"])
    children: list[ServiceProcess] = []
    try:
        for service in SERVICES:
            url = f"http://{host}:{ports[service]}"
            process = subprocess.Popen(  # noqa: S603 - our own interpreter and module
                [
                    sys.executable,
                    "-m",
                    "services.cli",
                    "serve",
                    service,
                    "--host",
                    host,
                    "--port",
                    str(ports[service]),
                ],
                env=_service_env(service),
            )
            children.append(ServiceProcess(service, url, process))
        for child in children:
            wait_healthy(child.url, process=child.process)
        token = issue_token(private_key.read_bytes(), role=Role.OPERATOR, subject="operator-console")
        print("\nektp-print is up (Ctrl-C stops it):")
        for child in children:
            print(f"  {child.name:<10} {child.url}  (API docs: {child.url}/docs)")
        print(f"\noperator token:\n{token}\n", flush=True)
        while all(child.process.poll() is None for child in children):
            time.sleep(0.5)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        for child in children:
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        for child in children:
            try:
                child.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                child.process.kill()
