"""``ektp migrate`` runs our migrations only: never a ``migrations/`` folder, an ``alembic.ini`` or a module named
like a database driver that happens to lie in the folder it was started from."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EKTP = Path(sys.executable).with_name("ektp")  # the console script: no folder of its caller on sys.path

HOSTILE_REVISION = """
from pathlib import Path
Path({marker!r}).write_text("a revision from the working directory ran")
revision, down_revision, branch_labels, depends_on = "ffff00000001", None, None, None
def upgrade():
    Path({marker!r}).write_text("a revision from the working directory ran")
def downgrade():
    pass
"""
HOSTILE_ENV = """
from pathlib import Path
Path({marker!r}).write_text("an env.py from the working directory ran")
"""
HOSTILE_DRIVER = """
from pathlib import Path
Path({marker!r}).write_text("a driver module from the working directory was imported")
"""


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """A folder someone else filled: an alembic project of its own and an ``aiosqlite.py``, each leaving a mark."""
    folder = tmp_path / "downloads"
    versions = folder / "migrations" / "request" / "versions"
    versions.mkdir(parents=True)
    marks = tmp_path / "marks"
    marks.mkdir()
    (folder / "alembic.ini").write_text(
        "[request]\nscript_location = %(here)s/migrations/request\nprepend_sys_path = .\npath_separator = os\n"
    )
    (folder / "migrations" / "request" / "env.py").write_text(HOSTILE_ENV.format(marker=str(marks / "env")))
    (versions / "ffff00000001_evil.py").write_text(HOSTILE_REVISION.format(marker=str(marks / "revision")))
    for driver in ("aiosqlite", "asyncpg"):
        (folder / f"{driver}.py").write_text(HOSTILE_DRIVER.format(marker=str(marks / driver)))
    return folder


def _marks(hostile: Path) -> list[str]:
    return sorted(path.name for path in (hostile.parent / "marks").iterdir())


def _tables(database: Path) -> set[str]:
    with sqlite3.connect(database) as connection:
        return {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _env(database: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EKTP_")}
    return env | {"EKTP_REQUEST_DATABASE_URL": f"sqlite+aiosqlite:///{database}"} | extra


def test_ektp_migrate_started_in_a_hostile_folder_runs_the_projects_own_migrations(
    hostile: Path, tmp_path: Path
) -> None:
    database = tmp_path / "request.db"
    done = subprocess.run(
        [str(EKTP), "migrate", "request"], cwd=hostile, env=_env(database), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert _marks(hostile) == []
    assert {"alembic_version", "print_requests"} <= _tables(database)


def test_an_installed_copy_never_looks_for_migrations_in_the_working_directory(hostile: Path, tmp_path: Path) -> None:
    # As `pip install .` leaves it: the packages in site-packages, no alembic.ini or migrations/ beside them.
    site = tmp_path / "site"
    for package in ("services", "drivers"):
        shutil.copytree(ROOT / package, site / package, ignore=shutil.ignore_patterns("__pycache__"))
    script = "import sys; from services.ops.cli import main; sys.exit(main(['migrate', 'request']))"
    # -P: not even python's own habit of putting the working directory first on sys.path.
    command = [sys.executable, "-P", "-c", script]
    database = tmp_path / "request.db"

    lost = subprocess.run(
        command, cwd=hostile, env=_env(database, PYTHONPATH=str(site)), capture_output=True, text=True, timeout=120
    )
    assert lost.returncode != 0
    assert "EKTP_MIGRATIONS_ROOT" in lost.stderr
    assert _marks(hostile) == []

    told = _env(database, PYTHONPATH=str(site), EKTP_MIGRATIONS_ROOT=str(ROOT))
    done = subprocess.run(command, cwd=hostile, env=told, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert _marks(hostile) == []
    assert "print_requests" in _tables(database)
