"""What every endpoint of the request service needs besides the session: settings, reference data, the clock,
the data keys that seal photos and signatures.

Made once in ``create_app`` and kept on ``app.state.context``; endpoints take it as the ``Context`` dependency.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.audit import Auditor
from services.common.db import after_commit
from services.common.idempotency import IdempotencyKeys
from services.common.models import utcnow
from services.common.office_hours import OfficeCalendar
from services.request.config import Settings
from services.request.models import AuditEvent, IdempotencyKey
from services.request.privacy.keys import Keyring
from services.request.queue.signal import QueueSignal
from services.request.regions.service import RegionCatalog, load_catalog

__all__ = ["Context", "ServiceContext", "get_context"]


@dataclass
class ServiceContext:
    settings: Settings
    catalog: RegionCatalog
    calendar: OfficeCalendar
    keyring: Keyring
    auditor: Auditor = field(default_factory=lambda: Auditor(AuditEvent))
    idempotency: IdempotencyKeys = field(default_factory=lambda: IdempotencyKeys(IdempotencyKey))
    clock: Callable[[], dt.datetime] = utcnow
    queue_signal: QueueSignal = field(default_factory=QueueSignal)

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceContext:
        return cls(
            settings=settings,
            catalog=load_catalog(settings.regency_code, settings.region_data_file),
            calendar=OfficeCalendar.from_settings(settings),
            # Read now: without its keys file the service does not start (privacy/keys.py says why).
            keyring=Keyring(settings.data_keys_file),
        )

    @property
    def timezone(self) -> dt.tzinfo:
        return self.calendar.timezone

    def queued(self, session: AsyncSession) -> None:
        """This transaction queues a request: wake the waiting claims once it commits."""
        after_commit(session, self.queue_signal.notify)

    def today(self) -> dt.date:
        """The office's calendar date (WIB for Pesawaran)."""
        return self.calendar.local_date(self.clock())


async def get_context(request: Request) -> ServiceContext:
    # async: FastAPI runs a plain ``def`` dependency in a worker thread, a thread hop on every request.
    context: ServiceContext = request.app.state.context
    return context


Context = Annotated[ServiceContext, Depends(get_context)]
