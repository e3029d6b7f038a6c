"""The reservation sweeper: a lifespan part that releases reservations past their time-to-live."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from services.common.db import Database
from services.common.tasks import periodic
from services.inventory.config import Settings
from services.inventory.reservations.service import expire_overdue

__all__ = ["sweep_once", "sweeper"]

log = logging.getLogger(__name__)


async def sweep_once(db: Database) -> int:
    """Release every reservation past its time-to-live, in one transaction; how many."""
    async with db.sessions() as session, session.begin():
        expired = await expire_overdue(session)
    if expired:
        log.info("released %d expired reservations", len(expired))
    return len(expired)


@contextlib.asynccontextmanager
async def sweeper(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan part: every ``sweep_interval_seconds`` release the reservations past their time-to-live."""
    settings: Settings = app.state.settings
    async with periodic(
        lambda: sweep_once(app.state.db),
        every=settings.sweep_interval_seconds,
        name="reservation-sweeper",
        wait_first=True,
        enabled=settings.start_sweeper,
    ):
        yield
