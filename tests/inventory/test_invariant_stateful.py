"""The invariant holds after any sequence of operations: a hypothesis state machine drives the HTTP API and,
after every step, checks ``GET /v1/stock/invariant`` and the balances against its own model.

The stock is kept small, so that the grants' two boundaries are reached and not only the middle of the stock: a
regular job refused because the blanks left are the urgent reserve, and an urgent job refused because no blank is
left at all. Each example starts by receiving a small tranche and reserving until both refusals came (the example
before gave its reservations back and wrote its blanks off), tranches are of one to four blanks, and a rule runs
the printers until the blanks are out again; the test fails unless both refusals were seen."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import string
from collections import Counter
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import httpx
import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from services.inventory.app import create_app
from services.inventory.config import Settings
from tests.inventory.conftest import Inventory
from tests.support import running

T = TypeVar("T")
URGENT_RESERVE = 2
# The refusals a run must have seen (``LedgerMachine.refused``).
KEPT_FOR_URGENT = "a regular job refused: the blanks left are the urgent reserve"
NO_BLANKS = "an urgent job refused: no blank left"


def _letters(n: int) -> str:
    out = ""
    n += 26 * 27  # at least three letters, so no machine's prefix is a prefix of another's
    while n:
        n, r = divmod(n, 26)
        out = string.ascii_uppercase[r] + out
    return out


@pytest.mark.slow
def test_the_invariant_holds_after_random_sequences_of_operations(
    backend: str,
    inventory_settings: Callable[..., Settings],
    client_for: Callable[..., httpx.AsyncClient],
    make_token: Callable[..., str],
) -> None:
    runner = asyncio.Runner()
    stack = contextlib.AsyncExitStack()
    app = create_app(inventory_settings(urgent_reserve_count=URGENT_RESERVE))
    prefixes = (_letters(n) for n in itertools.count())

    def run(coro: Coroutine[Any, Any, T]) -> T:
        return runner.run(coro)

    run(stack.enter_async_context(running(app)))
    inv = Inventory(app, client_for, make_token)
    seen: Counter[str] = Counter()  # boundaries reached, over every example of the run

    class LedgerMachine(RuleBasedStateMachine):
        """Each example works in its own serial prefix and job names; the model tracks changes from a baseline."""

        def __init__(self) -> None:
            super().__init__()
            self.prefix = next(prefixes)
            self.base = run(inv.stock())
            self.next_serial = 1
            self.next_job = 1
            self.unused: list[str] = []
            self.written_off: list[str] = []
            self.used: dict[str, str] = {}  # serial -> consumed | spoiled
            self.open_jobs: list[str] = []
            self.closed_jobs: list[str] = []
            self.delta = {"received": 0, "reserved": 0, "consumed": 0, "spoiled": 0, "written_off": 0}

        # The model ---------------------------------------------------------------------------------------

        def available(self) -> int:
            d = self.delta
            return (
                self.base["available"] + d["received"] - d["reserved"] - d["consumed"] - d["spoiled"] - d["written_off"]
            )

        def unused_total(self) -> int:
            return self.available() + self.base["reserved"] + self.delta["reserved"]

        # Rules -------------------------------------------------------------------------------------------

        def try_to_reserve(self, urgent: bool) -> bool:
            """One reservation, granted or refused as the model says; True if it was granted."""
            job = f"job_{self.prefix}_{self.next_job}"
            self.next_job += 1
            floor = 0 if urgent else URGENT_RESERVE
            response = run(inv.reserve(job, urgent=urgent))
            if self.available() - 1 >= floor:
                assert response.status_code == 201, response.text
                self.open_jobs.append(job)
                self.delta["reserved"] += 1
                return True
            assert response.status_code == 409, response.text
            problem = response.json()
            assert problem["type"].endswith("/no-blanks")
            assert (problem["available"], problem["urgent_reserve"]) == (self.available(), URGENT_RESERVE), problem
            if not urgent and self.available() > 0:
                self.refused(KEPT_FOR_URGENT)
            elif urgent:
                self.refused(NO_BLANKS)
            return False

        def refused(self, boundary: str) -> None:
            seen[boundary] += 1
            event(boundary)

        @initialize(size=st.integers(1, 4))
        def a_tranche_arrives_and_the_printers_run_until_the_blanks_are_out(self, size: int) -> None:
            """Every example starts at both boundaries: a regular job refused for the urgent reserve, then an
            urgent job refused for want of any blank; the random steps go on from an empty shelf."""
            self.receive(size)
            self.drain()

        def receive(self, size: int) -> None:
            first = self.next_serial
            serials = [f"{self.prefix}{n:06d}" for n in range(first, first + size)]
            run(inv.receive(f"{self.prefix}-{first}", serials[0], serials[-1]))
            self.next_serial += size
            self.unused.extend(serials)
            self.delta["received"] += size

        @rule(size=st.integers(1, 4))
        def receive_a_tranche(self, size: int) -> None:
            self.receive(size)

        @rule(urgent=st.booleans())
        def reserve(self, urgent: bool) -> None:
            self.try_to_reserve(urgent)

        def drain(self) -> None:
            """Regular jobs reserve until only the urgent reserve is left, then urgent jobs take that too."""
            for urgent, floor in ((False, URGENT_RESERVE), (True, 0)):
                expected = max(0, self.available() - floor)
                granted = 0
                while self.try_to_reserve(urgent):
                    granted += 1
                assert granted == expected, (urgent, granted, expected)
            assert self.available() == 0

        @rule()
        def the_printers_run_until_the_blanks_are_out(self) -> None:
            self.drain()

        @precondition(lambda self: self.open_jobs)
        @rule(data=st.data())
        def reserve_the_same_job_again(self, data: st.DataObject) -> None:
            job = data.draw(st.sampled_from(self.open_jobs))
            assert run(inv.reserve(job)).status_code == 200

        @precondition(lambda self: self.open_jobs and self.unused)
        @rule(data=st.data(), spoil=st.booleans())
        def the_printer_uses_a_blank(self, data: st.DataObject, spoil: bool) -> None:
            job = data.draw(st.sampled_from(self.open_jobs))
            serial = data.draw(st.sampled_from(self.unused))
            response = run(inv.spoil(job, serial) if spoil else inv.consume(job, serial))
            assert response.status_code == 200, response.text
            again = run(inv.spoil(job, serial) if spoil else inv.consume(job, serial))
            assert again.json() == response.json()
            outcome = "spoiled" if spoil else "consumed"
            self.unused.remove(serial)
            self.used[serial] = outcome
            self.open_jobs.remove(job)
            self.closed_jobs.append(job)
            self.delta["reserved"] -= 1
            self.delta[outcome] += 1

        @precondition(lambda self: self.open_jobs and self.used)
        @rule(data=st.data())
        def a_used_serial_is_refused(self, data: st.DataObject) -> None:
            job = data.draw(st.sampled_from(self.open_jobs))
            serial = data.draw(st.sampled_from(sorted(self.used)))
            response = run(inv.consume(job, serial))
            assert response.status_code == 409
            assert response.json()["type"].endswith(f"/serial-{self.used[serial]}")

        @precondition(lambda self: self.closed_jobs and self.unused)
        @rule(data=st.data())
        def a_closed_reservation_is_refused(self, data: st.DataObject) -> None:
            job = data.draw(st.sampled_from(self.closed_jobs))
            response = run(inv.consume(job, self.unused[0]))
            assert response.status_code == 409
            assert response.json()["type"].endswith("/reservation-closed")

        @precondition(lambda self: self.open_jobs)
        @rule(data=st.data(), hold=st.booleans())
        def release_or_hold(self, data: st.DataObject, hold: bool) -> None:
            job = data.draw(st.sampled_from(self.open_jobs))
            if hold:
                response = run(inv.service.post(f"/v1/reservations/{job}/hold", json={"reason": "unknown"}))
                assert response.status_code == 200
                return
            assert run(inv.service.post(f"/v1/reservations/{job}/release", json={})).status_code == 200
            self.open_jobs.remove(job)
            self.closed_jobs.append(job)
            self.delta["reserved"] -= 1

        @precondition(lambda self: self.unused)
        @rule(data=st.data(), write_off=st.booleans())
        def a_blank_leaves_the_shelf(self, data: st.DataObject, write_off: bool) -> None:
            serial = data.draw(st.sampled_from(self.unused))
            if write_off:
                body = {"serial": serial, "action": "write_off", "reason": "lost at stock take"}
                response = run(inv.admin.post("/v1/adjustments", json=body))
            else:
                body = {"serial": serial, "reason": "damaged", "witness": "Ani"}
                response = run(inv.operator.post("/v1/spoilage", json=body))
            if self.available() < 1:
                assert response.status_code == 409
                assert response.json()["type"].endswith("/blanks-all-reserved")
                return
            assert response.status_code == 201, response.text
            self.unused.remove(serial)
            if write_off:
                self.written_off.append(serial)
                self.delta["written_off"] += 1
            else:
                self.used[serial] = "spoiled"
                self.delta["spoiled"] += 1

        @precondition(lambda self: self.written_off)
        @rule(data=st.data())
        def a_lost_blank_is_found(self, data: st.DataObject) -> None:
            serial = data.draw(st.sampled_from(self.written_off))
            body = {"serial": serial, "action": "restore", "reason": "found in the safe"}
            assert run(inv.admin.post("/v1/adjustments", json=body)).status_code == 201
            self.written_off.remove(serial)
            self.unused.append(serial)
            self.delta["written_off"] -= 1

        def teardown(self) -> None:
            """Give the reservations back and write the blanks off, so that the next example starts with none
            available (best effort: after a failed step the model may be wrong, and the next example's first
            drain empties the shelf anyway)."""
            for job in self.open_jobs:
                run(inv.service.post(f"/v1/reservations/{job}/release", json={}))
            for serial in self.unused:
                body = {"serial": serial, "action": "write_off", "reason": "end of the example"}
                run(inv.admin.post("/v1/adjustments", json=body))

        # After every step --------------------------------------------------------------------------------

        @invariant()
        def the_ledger_agrees_with_itself_and_with_the_model(self) -> None:
            checked = run(inv.invariant())
            for name in ("received", "consumed", "spoiled", "written_off"):
                assert checked[name] == self.base[name] + self.delta[name], name
            assert checked["reserved"] == self.base["reserved"] + self.delta["reserved"]
            assert checked["available"] == self.available()

    examples, steps = (10, 20) if backend == "sqlite" else (5, 12)
    try:
        run_state_machine_as_test(
            LedgerMachine,
            settings=settings(
                max_examples=examples,
                stateful_step_count=steps,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        run(inv.aclose())
        run(stack.aclose())
        runner.close()
    # Both boundaries were reached, not only the comfortable middle of the stock.
    assert seen[KEPT_FOR_URGENT] > 0, seen
    assert seen[NO_BLANKS] > 0, seen
