"""The retention purge: a request's photo and signature are emptied ``retention_days`` after it ended.

A request *ends* when its card is handed over (``collected``, counted from ``collected_at``) or when it stops
otherwise (``cancelled``, ``rejected``, ``replaced``, counted from ``updated_at``, the moment of that last
change). Its images become empty bytes (the columns stay NOT NULL), ``data_key_id`` NULL and
``images_purged_at`` the purge's time; everything else stays, because the office still answers for the card:
status, serial, dates, NIK and name. An active request (queued, printing, printed, activated, needs_review …)
is never touched, however old: it still has a card to print or hand over.

One UPDATE and one audit row per run, in one transaction, so the row and the change land together. The row
carries the count; the requests it covers are those with ``images_purged_at`` equal to the row's time. A run
that purges nothing writes no row: nothing changed, and a daily empty row would bury the real ones (the log
still says the run happened).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI
from sqlalchemy import and_, func, or_, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal, Role
from services.common.db import Database
from services.common.tasks import periodic
from services.request.context import ServiceContext
from services.request.models import PrintRequest
from services.request.print_requests.states import RequestStatus

__all__ = ["PURGER", "purge_expired", "purge_once", "retention_purge"]

log = logging.getLogger(__name__)

PURGER = Principal(subject="retention-purge", role=Role.SERVICE)
# Ended otherwise than by the hand-over: their last change (updated_at) is when they ended.
ENDED_OTHERWISE = (RequestStatus.CANCELLED, RequestStatus.REJECTED, RequestStatus.REPLACED)


async def purge_expired(session: AsyncSession, context: ServiceContext) -> int:
    """Empty the images of the requests that ended ``retention_days`` ago or earlier; how many. Flushes only."""
    now = context.clock()
    cutoff = now - dt.timedelta(days=context.settings.retention_days)
    ended_long_ago = or_(
        # collected_at is set with the status; updated_at only stands in for a row written without it.
        and_(
            PrintRequest.status == RequestStatus.COLLECTED.value,
            func.coalesce(PrintRequest.collected_at, PrintRequest.updated_at) <= cutoff,
        ),
        and_(
            PrintRequest.status.in_([status.value for status in ENDED_OTHERWISE]),
            PrintRequest.updated_at <= cutoff,
        ),
    )
    result = await session.execute(
        update(PrintRequest)
        .where(ended_long_ago, PrintRequest.images_purged_at.is_(None))
        .values(photo=b"", signature=b"", data_key_id=None, images_purged_at=now)
        .execution_options(synchronize_session=False)
    )
    count: int = result.rowcount  # type: ignore[attr-defined]
    if count:
        context.auditor.record(
            session,
            PURGER,
            "privacy.images_purged",
            "print_requests",
            f"ended by {cutoff.isoformat()}",
            after={"purged": count, "retention_days": context.settings.retention_days, "ended_by": cutoff.isoformat()},
        )
        await session.flush()
    log.info("retention purge: %d requests' images emptied", count, extra={"count": count})
    return count


async def purge_once(db: Database, context: ServiceContext) -> int:
    """One run of the purge in its own transaction (the background loop has no request to own one)."""
    async with db.transaction() as session:
        return await purge_expired(session, context)


@contextlib.asynccontextmanager
async def retention_purge(app: FastAPI) -> AsyncIterator[None]:
    """Lifespan part: purge once at start, then every ``retention_interval_seconds``."""
    context: ServiceContext = app.state.context
    async with periodic(
        lambda: purge_once(app.state.db, context),
        every=context.settings.retention_interval_seconds,
        name="retention-purge",
    ):
        yield
