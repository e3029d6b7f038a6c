"""``LeaseKeeper``: renews a claim's lease at a third of its length while the job runs."""

from __future__ import annotations

import asyncio
import logging

from services.common.tasks import Stop, repeat
from services.gateway.clients import RequestClient
from services.gateway.errors import LeaseLost, PeerError, StaleJob

__all__ = ["LeaseKeeper"]

log = logging.getLogger(__name__)


class LeaseKeeper:
    def __init__(self, requests: RequestClient, job_id: str, lease_seconds: float) -> None:
        self.requests, self.job_id, self.lease_seconds = requests, job_id, lease_seconds
        self.lost = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> LeaseKeeper:
        renewal = repeat(
            self._renew_once,
            every=self.lease_seconds / 3,
            wait_first=True,
            what="lease renewal",
            expected=(PeerError,),
            extra={"job_id": self.job_id},
        )
        self._task = asyncio.create_task(renewal, name=f"lease {self.job_id}")
        return self

    async def _renew_once(self) -> None:
        try:
            await self.requests.renew(self.job_id, self.lease_seconds)
        except (LeaseLost, StaleJob):
            log.warning("lease lost", extra={"job_id": self.job_id})
            self.lost = True
            raise Stop from None

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
