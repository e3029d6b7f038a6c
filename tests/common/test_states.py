"""The one transition check every state machine uses: allowed moves pass, others are a 409 naming both ends."""

from __future__ import annotations

import enum

import pytest

from services.common.problems import Conflict
from services.common.states import InvalidTransition, check_transition


class Door(enum.StrEnum):
    OPEN = "open"
    SHUT = "shut"
    LOCKED = "locked"


DOORS = {Door.OPEN: frozenset({Door.SHUT}), Door.SHUT: frozenset({Door.OPEN, Door.LOCKED}), Door.LOCKED: frozenset()}


def test_an_allowed_move_passes() -> None:
    check_transition(DOORS, Door.SHUT, Door.LOCKED, thing="door")


def test_a_move_outside_the_table_is_a_409_naming_both_states() -> None:
    with pytest.raises(InvalidTransition) as caught:
        check_transition(DOORS, Door.OPEN, Door.LOCKED, thing="door", kind="door-open")
    problem = caught.value
    assert isinstance(problem, Conflict)
    assert problem.status == 409
    body = problem.body()
    assert body["type"].endswith("/door-open")
    assert (body["current"], body["target"]) == ("open", "locked")
    assert body["detail"] == "a door that is open cannot become locked"


def test_a_final_state_allows_nothing() -> None:
    for wanted in Door:
        with pytest.raises(InvalidTransition):
            check_transition(DOORS, Door.LOCKED, wanted, thing="door")
