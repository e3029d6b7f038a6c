"""A private PostgreSQL server for tests that restart PostgreSQL mid-run.

The shared server on 127.0.0.1:5432 serves the rest of the suite, which runs in parallel: restarting it would
break other tests. This one is the machine's own PostgreSQL binaries (``initdb``, ``pg_ctl``) on a free port
and a throw-away data directory, owned by the ``postgres`` user when the tests run as root.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.support import free_port

__all__ = ["PrivatePostgres", "find_pg_bin", "private_postgres"]


def find_pg_bin() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


@dataclass
class PrivatePostgres:
    bin_dir: Path
    data_dir: Path
    port: int
    as_user: list[str]

    def _run(self, *argv: str) -> None:
        subprocess.run([*self.as_user, *argv], check=True, capture_output=True, timeout=60)

    def pg_ctl(self, action: str) -> None:
        self._run(
            str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-w", "-t", "30", "-m", "fast",
            "-l", str(self.data_dir / "server.log"),
            "-o", f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1 -c fsync=off",
            action,
        )  # fmt: skip

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        self._run(str(self.bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL's server binaries (initdb, pg_ctl) are not installed")
    root = Path(tempfile.mkdtemp(prefix="ektp-pg-"))
    data_dir = root / "data"
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if as_user:
        shutil.chown(root, "postgres")
    server = PrivatePostgres(bin_dir, data_dir, free_port(), as_user)
    try:
        server._run(str(bin_dir / "initdb"), "-D", str(data_dir), "-A", "trust", "-U", "postgres", "--no-sync")
        server.pg_ctl("start")
        yield server
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            server.pg_ctl("stop")
        shutil.rmtree(root, ignore_errors=True)
