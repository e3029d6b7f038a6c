"""A job's steps: the refusal of a step the table does not allow says which step was refused from where."""

from __future__ import annotations

import pytest

from services.common.states import InvalidTransition, check_transition
from services.gateway.journal.steps import PRE_SEND, TRANSITIONS, Step

ALLOWED = [(current, to) for current, targets in TRANSITIONS.items() for to in sorted(targets)]


@pytest.mark.parametrize(("current", "to"), ALLOWED)
def test_every_step_in_the_table_is_taken_without_complaint(current: Step, to: Step) -> None:
    check_transition(TRANSITIONS, current, to, thing="job")


def test_a_refused_step_names_where_the_job_is_and_where_it_was_sent() -> None:
    with pytest.raises(InvalidTransition, match=r"^a job that is sent cannot become releasing$") as refused:
        check_transition(TRANSITIONS, Step.SENT, Step.RELEASING, thing="job")
    assert (refused.value.current, refused.value.wanted) == (Step.SENT, Step.RELEASING)


def test_only_a_job_not_yet_sent_can_be_handed_back() -> None:
    assert {Step.CLAIMED, Step.RESERVED, Step.RENDERED} == PRE_SEND
    assert all(Step.RELEASING in TRANSITIONS[step] for step in PRE_SEND)
    assert not any(Step.RELEASING in TRANSITIONS[step] for step in set(Step) - PRE_SEND - {Step.RELEASING})
