"""The lease sweeper: a background task of the app's lifespan that collects expired leases every few seconds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from services.common.db import Database, commit, rollback
from services.request.context import ServiceContext
from services.request.queue.service import sweep_expired_leases

__all__ = ["lease_sweeper", "sweep_once"]

log = logging.getLogger(__name__)


async def sweep_once(db: Database, context: ServiceContext) -> int:
    async with db.sessions() as session:
        try:
            count = await sweep_expired_leases(session, context)
        except BaseException:
            await rollback(session)
            raise
        await commit(session)
        return count


async def _loop(app: FastAPI) -> None:
    context: ServiceContext = app.state.context
    while True:
        try:
            await sweep_once(app.state.db, context)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the lease sweeper failed; trying again")
        await asyncio.sleep(context.settings.sweep_interval_seconds)


@contextlib.asynccontextmanager
async def lease_sweeper(app: FastAPI) -> AsyncIterator[None]:
    task = asyncio.create_task(_loop(app), name="lease-sweeper")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
