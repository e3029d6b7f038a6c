"""A Docker engine that answers, and the compose client to drive it.

``engine()`` returns an ``Engine`` when ``docker info`` answers. When it does not but Debian's ``dockerd`` is
installed and we are root (a developer's machine after a restart; .ci/run starts its own), it starts ``dockerd``
in the background and stops it again at ``Engine.close()``. Otherwise it returns the reason, in words a skip
message can give as it is.

The compose client: ``docker compose`` (v2) when the docker CLI has the plugin, else ``docker-compose`` (v1, the
only one in Debian bookworm: ``apt-get install docker-compose``). Both read the same file the same way here.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Engine", "compose_client", "engine"]

INSTALL = "apt-get install docker.io docker-compose"


def _answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def compose_client() -> list[str] | None:
    """``["docker", "compose"]`` or ``["docker-compose"]``, whichever works; None without either."""
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@dataclass
class Engine:
    compose: list[str]
    started: subprocess.Popen[bytes] | None = None  # the dockerd started here, stopped by close()
    log: Path | None = None

    def close(self) -> None:
        if self.started is None or self.started.poll() is not None:
            return
        self.started.send_signal(signal.SIGTERM)
        try:
            self.started.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.started.kill()
            self.started.wait()
        if self.log is not None:
            self.log.unlink(missing_ok=True)


def _start_dockerd(timeout: float = 60.0) -> tuple[subprocess.Popen[bytes] | None, Path, str]:
    log = Path(tempfile.mkstemp(prefix="ektp-dockerd-", suffix=".log")[1])
    with log.open("ab") as out:
        process = subprocess.Popen(["dockerd"], stdout=out, stderr=out, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if _answers():
            return process, log, ""
        time.sleep(0.5)
    if process.poll() is None:
        process.kill()
        process.wait()
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
    return None, log, f"dockerd did not start (exit {process.returncode}; {log}):\n{tail}"


def engine() -> Engine | str:
    """The engine (started here if need be), or why there is none."""
    compose = compose_client()
    if compose is None:
        return f"no compose client (neither `docker compose` nor `docker-compose`): {INSTALL}"
    if _answers():
        return Engine(compose)
    if shutil.which("dockerd") is None:
        return f"no Docker engine answers `docker info` and dockerd is not installed: {INSTALL}"
    if os.geteuid() != 0:
        return "no Docker engine answers `docker info`, and starting dockerd takes root"
    process, log, reason = _start_dockerd()
    if process is None:
        return reason
    return Engine(compose, started=process, log=log)
