"""The inventory's state tables as the 409 answers people get: what a blank, a reservation or a proposal in
one state cannot become, and the problem kind that says so."""

from __future__ import annotations

import pytest

from services.common.problems import Conflict
from services.common.states import check_transition
from services.inventory.states import (
    BLANK_TRANSITIONS,
    PROPOSAL_TRANSITIONS,
    RESERVATION_TRANSITIONS,
    BlankState,
    ProposalState,
    ReservationStatus,
)


def test_an_allowed_change_passes_silently() -> None:
    check_transition(
        RESERVATION_TRANSITIONS, ReservationStatus.EXPIRED, ReservationStatus.CONSUMED, thing="reservation"
    )
    check_transition(BLANK_TRANSITIONS, BlankState.WRITTEN_OFF, BlankState.AVAILABLE, thing="blank")


def test_a_released_reservation_cannot_be_consumed_and_the_problem_is_named_for_its_state() -> None:
    with pytest.raises(Conflict) as refused:
        check_transition(
            RESERVATION_TRANSITIONS,
            ReservationStatus.RELEASED,
            ReservationStatus.CONSUMED,
            thing="reservation",
            kind="reservation-released",
        )

    assert refused.value.kind == "reservation-released"
    assert refused.value.extensions == {"current": "released", "target": "consumed"}
    assert refused.value.detail == "a reservation that is released cannot become consumed"


def test_the_caller_may_name_the_problem_itself() -> None:
    with pytest.raises(Conflict) as refused:
        check_transition(
            RESERVATION_TRANSITIONS,
            ReservationStatus.SPOILED,
            ReservationStatus.RELEASED,
            thing="reservation",
            kind="reservation-closed",
        )

    assert refused.value.kind == "reservation-closed"


def test_a_consumed_blank_and_a_closed_proposal_are_named_as_such() -> None:
    with pytest.raises(Conflict) as blank:
        check_transition(
            BLANK_TRANSITIONS, BlankState.CONSUMED, BlankState.SPOILED, thing="blank", kind="blank-consumed"
        )
    with pytest.raises(Conflict) as proposal:
        check_transition(
            PROPOSAL_TRANSITIONS,
            ProposalState.CLOSED,
            ProposalState.CANCELLED,
            thing="proposal",
            kind="proposal-closed",
        )

    assert blank.value.kind == "blank-consumed"
    assert proposal.value.kind == "proposal-closed"
    assert proposal.value.detail == "a proposal that is closed cannot become cancelled"
