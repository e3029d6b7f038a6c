"""``Journal``: writes each step of a job in its own committed transaction, before the step is taken."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import insert, update

from services.common.db import Database
from services.common.models import utcnow
from services.common.states import InvalidTransition, check_transition
from services.gateway.journal import repository
from services.gateway.journal.steps import OUTCOME_TOLD, TRANSITIONS, JobState, Step
from services.gateway.models import Job, JournalEntry

__all__ = ["JobNotFound", "Journal", "new_job_id"]

_TERMINAL_STATE = {Step.RELEASED: JobState.HANDED_BACK, Step.REVIEW: JobState.NEEDS_REVIEW}
# For each step, the steps a job may be at just before it.
_BEFORE: dict[Step, frozenset[Step]] = {
    step: frozenset(before for before, after in TRANSITIONS.items() if step in after) for step in Step
}


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
    ) -> None:
        """Move ``job_id`` to ``step`` (checked against the table), set ``fields``, and journal it.

        One UPDATE guarded by the steps the table allows before ``step`` (two writers cannot both move a
        job), one INSERT, one commit. A step in ``OUTCOME_TOLD`` also drops the card's images in that commit.
        """
        values: dict[str, Any] = {"step": step.value, "updated_at": utcnow(), **fields}
        new_state = state or _TERMINAL_STATE.get(step)
        if new_state is not None:
            values["status"] = new_state.value
            if new_state is not JobState.ACTIVE:
                values["finished_at"] = values["updated_at"]
        async with self.db.sessions.begin() as session:
            result = await session.execute(
                update(Job)
                .where(Job.id == job_id, Job.step.in_([s.value for s in _BEFORE[step]]))
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                job = await repository.get_job(session, job_id)
                if job is None:
                    raise JobNotFound(job_id)
                check_transition(TRANSITIONS, Step(job.step), step, thing="job", kind="job-step")
                # Allowed from where it is now, yet not from where it was read: another writer moved it meanwhile.
                raise InvalidTransition("job", Step(job.step), step, kind="job-moved")  # pragma: no cover
            if step in OUTCOME_TOLD:
                await repository.drop_card_images(session, job_id)
            await session.execute(
                insert(JournalEntry).values(job_id=job_id, step=step.value, detail=detail, at=utcnow())
            )

    async def get(self, job_id: str) -> Job | None:
        async with self.db.read_sessions() as session:
            return await repository.get_job(session, job_id)

    async def unfinished(self, printer_id: str | None = None) -> Sequence[Job]:
        async with self.db.read_sessions() as session:
            return await repository.unfinished_jobs(session, printer_id)

    async def cancel_requested(self, job_id: str) -> bool:
        job = await self.get(job_id)
        return job is not None and job.cancel_requested
