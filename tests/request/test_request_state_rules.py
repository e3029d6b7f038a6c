"""A print request's life: every move the state table allows, and the answer to a move it does not."""

from __future__ import annotations

import pytest

from services.common.problems import Conflict
from services.common.states import check_transition
from services.request.print_requests.states import ACTIVE, TRANSITIONS, RequestStatus

S = RequestStatus
ALLOWED = [(current, target) for current, targets in TRANSITIONS.items() for target in sorted(targets)]
FORBIDDEN = [(current, target) for current in S for target in S if target not in TRANSITIONS[current]]


@pytest.mark.parametrize(("current", "target"), ALLOWED)
def test_every_move_in_the_table_is_allowed_from_the_status_as_stored(current: S, target: S) -> None:
    check_transition(TRANSITIONS, S(current.value), target, thing="request")


@pytest.mark.parametrize(("current", "target"), FORBIDDEN)
def test_every_other_move_is_a_409_invalid_transition(current: S, target: S) -> None:
    with pytest.raises(Conflict) as refused:
        check_transition(TRANSITIONS, current, target, thing="request")

    assert refused.value.kind == "invalid-transition"
    assert refused.value.extensions == {"current": current.value, "target": target.value}
    assert refused.value.detail == f"a request that is {current.value} cannot become {target.value}"


def test_a_printed_card_cannot_go_back_to_the_queue_so_it_is_never_printed_twice() -> None:
    with pytest.raises(Conflict):
        check_transition(TRANSITIONS, S("printed"), S.QUEUED, thing="request")


def test_a_nik_has_an_active_request_until_it_is_collected_cancelled_or_rejected() -> None:
    assert {S.COLLECTED, S.CANCELLED, S.REJECTED}.isdisjoint(ACTIVE)
    assert {S.QUEUED, S.PRINTING, S.NEEDS_REVIEW, S.PRINTED, S.ACTIVATED} <= ACTIVE
