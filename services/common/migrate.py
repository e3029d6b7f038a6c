"""Run a service's alembic migrations: ``ektp migrate [SERVICE]`` and the test fixtures both call this.

One ``alembic.ini`` at the project root has a section per service (``[request]``, ``[inventory]``,
``[gateway]``), each pointing at ``migrations/<service>``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

__all__ = ["PROJECT_ROOT", "SERVICES", "alembic_config", "upgrade", "upgrade_async"]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SERVICES = ("request", "inventory", "gateway")


def alembic_config(service: str, url: str) -> Config:
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}; one of {', '.join(SERVICES)}")
    config = Config(str(PROJECT_ROOT / "alembic.ini"), ini_section=service)
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations" / service))
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
