"""``Journal``: writes each step of a job in its own committed transaction, before the step is taken."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from services.common.db import Database
from services.common.models import utcnow
from services.gateway.journal import repository
from services.gateway.journal.steps import JobState, Step, check_transition
from services.gateway.models import Job, JournalEntry

__all__ = ["JobNotFound", "Journal", "new_job_id"]

_TERMINAL_STATE = {Step.RELEASED: JobState.HANDED_BACK, Step.REVIEW: JobState.NEEDS_REVIEW}


def new_job_id() -> str:
    return f"job_{uuid.uuid4().hex}"


class JobNotFound(Exception):
    pass


class Journal:
    """The gateway's job journal in its database; every method commits before it returns."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def begin(self, job_id: str, printer_id: str) -> Job:
        """A new job at ``claimed``: written before the claim is asked for."""
        async with self.db.sessions.begin() as session:
            job = Job(id=job_id, printer_id=printer_id, step=Step.CLAIMED, status=JobState.ACTIVE)
            session.add(job)
            await session.flush()
            session.add(JournalEntry(job_id=job_id, step=Step.CLAIMED, detail={"printer_id": printer_id}))
        return job

    async def discard(self, job_id: str) -> None:
        """The claim found nothing: the job never existed for anyone else."""
        async with self.db.sessions.begin() as session:
            await repository.delete_job(session, job_id)

    async def advance(
        self,
        job_id: str,
        step: Step,
        *,
        detail: dict[str, Any] | None = None,
        state: JobState | None = None,
        **fields: Any,
    ) -> Job:
        """Move ``job_id`` to ``step`` (checked against the table), set ``fields``, and journal it."""
        async with self.db.sessions.begin() as session:
            job = await repository.get_job(session, job_id)
            if job is None:
                raise JobNotFound(job_id)
            check_transition(Step(job.step), step)
            job.step = step
            for name, value in fields.items():
                setattr(job, name, value)
            new_state = state or _TERMINAL_STATE.get(step)
            if new_state is not None:
                job.status = new_state
                if new_state is not JobState.ACTIVE:
                    job.finished_at = utcnow()
            session.add(JournalEntry(job_id=job_id, step=step, detail=detail))
            await session.flush()
        return job

    async def get(self, job_id: str) -> Job | None:
        async with self.db.read_sessions() as session:
            return await repository.get_job(session, job_id)

    async def unfinished(self, printer_id: str | None = None) -> Sequence[Job]:
        async with self.db.read_sessions() as session:
            return await repository.unfinished_jobs(session, printer_id)

    async def cancel_requested(self, job_id: str) -> bool:
        job = await self.get(job_id)
        return job is not None and job.cancel_requested
