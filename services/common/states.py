"""State machines: every domain's states are an enum with its allowed moves in one table, checked here.

Each domain module (``request/print_requests/states.py``, ``inventory/states.py``, ``gateway/fleet/states.py``,
``gateway/journal/steps.py``) draws its machine as an ASCII picture and declares its ``TRANSITIONS`` table;
this module holds the one check and the one error, so a new machine needs neither.

    check_transition(TRANSITIONS, RequestStatus.PRINTED, RequestStatus.QUEUED, thing="request")
    # → InvalidTransition (409, ``invalid-transition``): a request that is printed cannot become queued
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Any, TypeVar

from services.common.problems import Conflict

__all__ = ["InvalidTransition", "check_transition"]

S = TypeVar("S", bound=enum.StrEnum)


class InvalidTransition(Conflict):
    """A move the table does not allow: 409 for a caller's request, a bug or a lost race for a background loop.

    ``current`` and ``wanted`` are kept on the exception and in the problem body (``current``, ``target``)."""

    def __init__(
        self, thing: str, current: enum.StrEnum, wanted: enum.StrEnum, *, kind: str, **extensions: Any
    ) -> None:
        super().__init__(
            f"a {thing} that is {current.value} cannot become {wanted.value}",
            kind=kind,
            current=current.value,
            target=wanted.value,
            **extensions,
        )
        self.thing, self.current, self.wanted = thing, current, wanted


def check_transition(
    table: Mapping[S, frozenset[S]],
    current: S,
    wanted: S,
    *,
    thing: str,
    kind: str = "invalid-transition",
    **extensions: Any,
) -> None:
    """Raise ``InvalidTransition`` unless ``table`` lets ``current`` become ``wanted``.

    ``thing`` names the object in the message ("request", "reservation"); ``kind`` is the problem type."""
    if wanted not in table[current]:
        raise InvalidTransition(thing, current, wanted, kind=kind, **extensions)
