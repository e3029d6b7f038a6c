"""Run a service's alembic migrations: ``ektp migrate [SERVICE]`` and the test fixtures both call this.

One ``alembic.ini`` at the project root has a section per service (``[request]``, ``[inventory]``,
``[gateway]``), each pointing at ``migrations/<service>``. The migrations are not part of the installed package:
they are found in ``EKTP_MIGRATIONS_ROOT`` when it is set (the image sets ``/app``, where the Dockerfile copies
them), else beside the source tree this module was loaded from (a checkout, an editable install).

Never in the working directory: a migration is Python that runs with the database's credentials, so a
``migrations/`` folder (or a module named like a database driver, through alembic's ``prepend_sys_path``) in
whatever folder ``ektp migrate`` was started from must not be run.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

__all__ = ["PROJECT_ROOT", "SERVICES", "alembic_config", "migrations_root", "upgrade", "upgrade_async"]

# The source tree this module was imported from (a checkout or an editable install).
PROJECT_ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("request", "inventory", "gateway")


def migrations_root() -> Path:
    """The folder holding ``alembic.ini`` and ``migrations/``: ``EKTP_MIGRATIONS_ROOT``, else the source tree."""
    explicit = os.environ.get("EKTP_MIGRATIONS_ROOT")
    candidate = Path(explicit) if explicit else PROJECT_ROOT
    if not candidate.is_absolute():
        raise ValueError(f"EKTP_MIGRATIONS_ROOT must be an absolute path, not {explicit!r}")
    if (candidate / "alembic.ini").is_file() and (candidate / "migrations").is_dir():
        return candidate.resolve()
    raise FileNotFoundError(
        f"no alembic.ini and migrations/ in {candidate}: set EKTP_MIGRATIONS_ROOT to the folder that holds them "
        "(the working directory is never searched)"
    )


def alembic_config(service: str, url: str) -> Config:
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    root = migrations_root()
    config = Config(str(root / "alembic.ini"), ini_section=service)
    config.set_main_option("script_location", str(root / "migrations" / service))
    # alembic.ini's `prepend_sys_path = .` serves the `alembic` command run from the project folder; here it
    # would put the working directory first on sys.path for the rest of the process. Our packages are imported.
    config.set_main_option("prepend_sys_path", "")
    config.attributes["database_url"] = url
    return config


def upgrade(service: str, url: str, revision: str = "head") -> None:
    """Bring ``url``'s schema to ``revision``. Blocking: call it outside an event loop (or use upgrade_async)."""
    database = make_url(url).database
    if make_url(url).get_backend_name() == "sqlite" and database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(service, url), revision)


async def upgrade_async(service: str, url: str, revision: str = "head") -> None:
    # alembic's async env runs its own event loop: give it a thread.
    await asyncio.to_thread(upgrade, service, url, revision)
