"""The three services as real processes on loopback ports, and emulated printers on real ports.

    async with office_stack(tmp_path, keys, templates) as stack:
        await stack.start("request"); await stack.start("inventory"); await stack.start("gateway")
        stack.kill("gateway")            # SIGKILL
        await stack.start("gateway")     # same database, same port

Each service gets a SQLite file under ``tmp_path`` copied from the session's migrated template (the real
alembic migrations), the session's public key inline, and quick intervals. Logs go to ``tmp_path/<svc>.log``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from drivers.emulator.control_client import control_headers
from services.common.auth import KeyPair, Role, issue_token
from tests.support import free_port

__all__ = ["EmulatorProcess", "Stack", "free_port", "office_stack"]

PROJECT = Path(__file__).resolve().parents[1]


class Templates(Protocol):
    def sqlite_template(self, service: str) -> Path: ...


@dataclass
class Service:
    name: str
    port: int
    database: Path
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Stack:
    tmp: Path
    keys: KeyPair
    templates: Templates
    services: dict[str, Service] = field(default_factory=dict)
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)

    def token(self, role: str, subject: str | None = None) -> str:
        return issue_token(
            self.keys.private_pem, role=Role(role), subject=subject or f"{role}-it", ttl=dt.timedelta(hours=2)
        )

    def client(self, service: str, role: str = "operator", **kwargs: Any) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.services[service].url,
            headers={"Authorization": f"Bearer {self.token(role)}"},
            timeout=10.0,
            **kwargs,
        )

    def url(self, service: str) -> str:
        return self.services[service].url

    def _service(self, name: str) -> Service:
        if name not in self.services:
            database = self.tmp / f"{name}.db"
            shutil.copyfile(self.templates.sqlite_template(name), database)
            prefix = f"EKTP_{name.upper()}_"
            env = {
                prefix + "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
                prefix + "JWT_PUBLIC_KEY": self.keys.public_pem.decode(),
                prefix + "LOG_LEVEL": "WARNING",
            }
            self.services[name] = Service(name, free_port(), database, env, self.tmp / f"{name}.log")
        return self.services[name]

    def configure(self, name: str, **env: Any) -> None:
        """Extra settings for a service (applied at its next start): ``configure("gateway", poll_interval=0.1)``."""
        prefix = f"EKTP_{name.upper()}_"
        self.extra_env.setdefault(name, {}).update({prefix + k.upper(): str(v) for k, v in env.items()})

    async def start(self, name: str, *, deadline: float = 30.0) -> Service:
        service = self._service(name)
        env = dict(os.environ) | service.env | self.extra_env.get(name, {})
        if name == "gateway":
            prefix = "EKTP_GATEWAY_"
            env.setdefault(prefix + "REQUEST_URL", self._service("request").url)
            env.setdefault(prefix + "INVENTORY_URL", self._service("inventory").url)
            env.setdefault(prefix + "SERVICE_TOKEN", self.token("service", "gateway"))
            # The emulators listen on 127.0.0.1 ports picked at random: allowed here, not by the gateway's defaults.
            env.setdefault(prefix + "PRINTER_HOSTS", "127.0.0.1:*")
        log = service.log.open("ab")
        service.process = subprocess.Popen(
            [sys.executable, "-m", "services.ops.cli", "serve", name, "--port", str(service.port)],
            cwd=PROJECT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        await self.wait_healthy(name, deadline=deadline)
        return service

    async def wait_healthy(self, name: str, *, deadline: float = 30.0) -> None:
        service = self.services[name]
        loop = asyncio.get_running_loop()
        until = loop.time() + deadline
        async with httpx.AsyncClient(timeout=1.0) as client:
            while loop.time() < until:
                if service.process is not None and service.process.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {service.process.returncode}: {service.log.read_text()[-3000:]}"
                    )
                with contextlib.suppress(httpx.TransportError):
                    if (await client.get(f"{service.url}/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.05)
        raise TimeoutError(f"{name} did not become healthy in {deadline} s")

    def kill(self, name: str, sig: signal.Signals = signal.SIGKILL) -> None:
        service = self.services[name]
        if service.process is not None and service.process.poll() is None:
            service.process.send_signal(sig)
            service.process.wait(timeout=30)
        service.process = None

    def stop_all(self) -> None:
        for name in list(self.services):
            self.kill(name, signal.SIGTERM)


@contextlib.asynccontextmanager
async def office_stack(tmp: Path, keys: KeyPair, templates: Templates) -> AsyncIterator[Stack]:
    stack = Stack(tmp, keys, templates)
    try:
        yield stack
    finally:
        await asyncio.to_thread(stack.stop_all)


class EmulatorProcess:
    """``ektp emulator`` as a child process on real ports; its control API for faults and the card log."""

    def __init__(self, name: str, state_dir: Path, **options: Any) -> None:
        self.name, self.state_dir, self.options = name, state_dir, options
        self.process: asyncio.subprocess.Process | None = None
        self.url = ""
        self.control = ""
        self._http = httpx.AsyncClient(timeout=10.0)

    async def start(self) -> EmulatorProcess:
        args = [
            sys.executable, "-m", "drivers.emulator", "--name", self.name, "--port", "0", "--control-port", "0",
            "--state-dir", str(self.state_dir),
        ]  # fmt: skip
        for key, value in self.options.items():
            args += [f"--{key.replace('_', '-')}", str(value)]
        self.process = await asyncio.create_subprocess_exec(
            *args, cwd=PROJECT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
        )
        assert self.process.stdout is not None
        while True:
            line = await asyncio.wait_for(self.process.stdout.readline(), 20)
            if not line:
                raise RuntimeError(f"emulator {self.name} exited")
            if line.startswith(b"{"):
                info = json.loads(line)
                self.url, self.control = info["url"], info["control"]
                self._http.headers.update(control_headers(info["control_token_file"]))
                return self

    async def inject(self, fault: str, *, at_card: int | None = None, **params: Any) -> dict[str, Any]:
        body = params | ({"at_card": at_card} if at_card is not None else {})
        response = await self._http.post(f"{self.control}/faults/{fault}", json=body)
        assert response.status_code == 200, response.text
        state: dict[str, Any] = response.json()
        return state

    async def clear(self, fault: str) -> None:
        response = await self._http.delete(f"{self.control}/faults/{fault}")
        assert response.status_code == 200, response.text

    async def act(self, action: str, **params: Any) -> None:
        response = await self._http.post(f"{self.control}/actions/{action}", json=params)
        assert response.status_code == 200, response.text

    async def state(self) -> dict[str, Any]:
        body: dict[str, Any] = (await self._http.get(f"{self.control}/state")).json()
        return body

    async def card_log(self) -> list[dict[str, Any]]:
        body: list[dict[str, Any]] = (await self._http.get(f"{self.control}/log")).json()
        return body

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.terminate()
            try:
                await asyncio.wait_for(self.process.wait(), 10)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        await self._http.aclose()
