"""The job journal: the steps a card may take, each written before it is taken, on both databases."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from services.common.db import Database
from services.common.states import InvalidTransition, check_transition
from services.gateway.journal.service import Journal, new_job_id
from services.gateway.journal.steps import TRANSITIONS, JobState, Step
from services.gateway.models import Printer


def test_every_step_is_in_the_table_and_reported_and_released_are_final() -> None:
    assert set(TRANSITIONS) == set(Step)
    assert TRANSITIONS[Step.REPORTED] == TRANSITIONS[Step.RELEASED] == frozenset()


@pytest.mark.parametrize(
    ("current", "to"),
    [
        (Step.SENT, Step.RELEASING),  # once sent, the work cannot be handed back
        (Step.PRINTING, Step.RELEASING),
        (Step.CLAIMED, Step.PRINTING),
        (Step.REPORTED, Step.PRINTED),
        (Step.UNKNOWN, Step.PRINTED),  # unknown goes to review first
    ],
)
def test_forbidden_steps_are_refused(current: Step, to: Step) -> None:
    with pytest.raises(InvalidTransition):
        check_transition(TRANSITIONS, current, to, thing="job")


async def _journal_with_printer(url: str) -> tuple[Database, Journal]:
    db = Database(url)
    async with db.sessions.begin() as session:
        session.add(
            Printer(
                id="prn_1",
                name="p1",
                driver="evolis",
                url="socket://x:1",
                ribbon="ymcko",
                state="ready",
                reasons=[],
                supplies={},
                cards_printed=0,
            )
        )
    return db, Journal(db)


async def test_a_card_walks_the_happy_path_and_the_journal_keeps_each_step_in_order(
    migrated_db: Callable[[str], str],
) -> None:
    db, journal = await _journal_with_printer(migrated_db("gateway"))
    try:
        job_id = new_job_id()
        await journal.begin(job_id, "prn_1")
        for step in (Step.RESERVED, Step.RENDERED, Step.SENT, Step.PRINTING, Step.PRINTED):
            await journal.advance(job_id, step)
        assert [job.id for job in await journal.unfinished()] == [job_id]
        await journal.advance(job_id, Step.REPORTED, state=JobState.PRINTED)
        assert await journal.unfinished() == []
        from services.gateway.journal.repository import get_job

        async with db.read_sessions() as session:
            job = await get_job(session, job_id, with_journal=True)
            assert job is not None
            assert [e.step for e in job.journal] == [
                "claimed",
                "reserved",
                "rendered",
                "sent",
                "printing",
                "printed",
                "reported",
            ]
            assert job.status == "printed"
            assert job.finished_at is not None
    finally:
        await db.dispose()


async def test_a_wrong_step_changes_nothing(migrated_db: Callable[[str], str]) -> None:
    db, journal = await _journal_with_printer(migrated_db("gateway"))
    try:
        job_id = new_job_id()
        await journal.begin(job_id, "prn_1")
        with pytest.raises(InvalidTransition):
            await journal.advance(job_id, Step.PRINTED)
        job = await journal.get(job_id)
        assert job is not None
        assert job.step == "claimed"
        await journal.advance(job_id, Step.RELEASING)
        await journal.advance(job_id, Step.RELEASED)
        done = await journal.get(job_id)
        assert done is not None
        assert done.status == JobState.HANDED_BACK
    finally:
        await db.dispose()


async def test_an_empty_claim_leaves_no_job(migrated_db: Callable[[str], str]) -> None:
    db, journal = await _journal_with_printer(migrated_db("gateway"))
    try:
        job_id = new_job_id()
        await journal.begin(job_id, "prn_1")
        await journal.discard(job_id)
        assert await journal.get(job_id) is None
    finally:
        await db.dispose()
