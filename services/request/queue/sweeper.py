"""The lease sweeper: a background task of the app's lifespan that collects expired leases every few seconds."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from services.common.db import Database
from services.common.tasks import periodic
from services.request.context import ServiceContext
from services.request.queue.service import sweep_expired_leases

__all__ = ["lease_sweeper", "sweep_once"]


async def sweep_once(db: Database, context: ServiceContext) -> int:
    async with db.transaction() as session:
        return await sweep_expired_leases(session, context)


@contextlib.asynccontextmanager
async def lease_sweeper(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan part: every ``sweep_interval_seconds`` collect the expired leases."""
    context: ServiceContext = app.state.context
    async with periodic(
        lambda: sweep_once(app.state.db, context), every=context.settings.sweep_interval_seconds, name="lease-sweeper"
    ):
        yield
