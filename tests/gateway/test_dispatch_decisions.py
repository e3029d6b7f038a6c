"""What the gateway decides for one card, checked in seconds.

A software printer on a real TCP port (``drivers.emulator``, faults on demand), the request and inventory
services as small real web apps on loopback ports (tests/gateway/peers.py: they record every call and fail on
demand), and the gateway's own dispatch loop between them. Each test queues one request and reads what the
peers were told, what the printer did with the card and what the journal kept.

The rule above all: once a card may have come out of the printer, its request is never reported failed nor
handed back (either would queue it again and print a second card); it goes to review and its blank is held.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from drivers import CardPrinter, Extension, Reconnect, Timeouts, panel_size
from drivers.emulator import ALL_EXTENSIONS, Emulator, EmulatorConfig, Fault
from services.gateway.config import Settings
from services.gateway.dispatch.card import Ending, Outcome
from services.gateway.models import Job, JournalEntry
from tests.gateway.peers import (
    Drop,
    Hold,
    Peers,
    Problem,
    Reply,
    dispatcher,
    gateway_between,
    job_settled,
    peers_running,
    printer_ready,
)
from tests.support import wait_for


@pytest.fixture
def backend() -> str:
    """SQLite only: these are the dispatch loop's decisions; the journal runs on both in test_journal.py."""
    return "sqlite"


@dataclass
class Line:
    """One printer, the gateway and its two peers."""

    app: FastAPI
    peers: Peers
    emulator: Emulator
    printer_id: str

    async def print_one(self, request_id: str = "req_01", *, timeout: float = 10.0) -> Job:
        """Queue ``request_id``; the job that took it, once settled."""
        self.peers.requests.queue(request_id)
        return await job_settled(self.app, lambda: self.job_of(request_id), timeout=timeout)

    def job_of(self, request_id: str) -> str | None:
        claims = [job for job, claim in self.peers.requests.claims.items() if claim["request_id"] == request_id]
        return claims[-1] if claims else None

    async def journal(self, job_id: str) -> list[str]:
        async with dispatcher(self.app).gw.db.read_sessions() as session:
            entries = await session.scalars(
                select(JournalEntry.step).where(JournalEntry.job_id == job_id).order_by(JournalEntry.id)
            )
            return list(entries)

    def cards(self, job_id: str) -> list[tuple[str, str | None]]:
        """What the printer did with the blanks it fed for ``job_id``: (outcome, reason) from its card log."""
        return [(c["outcome"], c["reason"]) for c in self.emulator.card_log() if c["job"] == job_id]

    def serial_of(self, job_id: str) -> str:
        [card] = [c for c in self.emulator.card_log() if c["job"] == job_id]
        return str(card["serial"])

    async def printer(self) -> dict[str, Any]:
        row = await dispatcher(self.app).gw.fleet.get(self.printer_id)
        assert row is not None
        return {"state": row.state, "reasons": row.reasons}


OpenLine = Callable[..., contextlib.AbstractAsyncContextManager[Line]]


@pytest.fixture
def open_line(gateway_settings: Callable[..., Settings], make_token: Callable[..., str], tmp_path: Path) -> OpenLine:
    """``async with open_line(emulator={...}, **settings) as line``: a printer ready and its worker running."""

    @contextlib.asynccontextmanager
    async def open_(emulator: dict[str, Any] | None = None, **overrides: Any) -> AsyncIterator[Line]:
        settings: dict[str, Any] = {
            "service_token": make_token("service"),
            "start_loops": True,
            "claim_wait_seconds": 0,
            "poll_interval": 0.05,
            "idle_claim_interval": 0.05,
            "peer_retry_max_wait": 0.05,
            "card_margin": 0.5,  # a card that does not come out within this is given up on
        }
        config: dict[str, Any] = {"time_scale": math.inf, "state_dir": tmp_path / "emu", "clean_after": 100}
        async with (
            Emulator(EmulatorConfig(**(config | (emulator or {})))) as emu,
            peers_running() as peers,
            gateway_between(gateway_settings(**(settings | overrides)), peers) as app,
        ):
            assert emu.url is not None
            printer_id = await printer_ready(app, "p1", emu.url)
            yield Line(app, peers, emu, printer_id)

    return open_


@pytest.fixture
async def line(open_line: OpenLine) -> AsyncIterator[Line]:
    async with open_line() as line:
        yield line


# -- the card comes out ------------------------------------------------------------------------------------


async def test_a_printed_card_is_reported_printed_with_its_serial_and_that_blank_is_consumed(line: Line) -> None:
    job = await line.print_one()
    serial = line.serial_of(job.id)
    assert line.cards(job.id) == [("printed", None)]
    assert job.status == "printed"
    assert job.card_serial == serial
    assert line.peers.requests.about(job.id) == ["claims", "sent", "printed"]
    [printed] = line.peers.requests.made("printed", job.id)
    assert printed.body == {"card_serial": serial, "printer_id": line.printer_id}
    assert line.peers.inventory.about(job.id) == ["reservations", "consume"]
    [consume] = line.peers.inventory.made("consume", job.id)
    assert consume.body == {"serial": serial, "request_id": "req_01", "printer_id": line.printer_id}
    assert await line.journal(job.id) == ["claimed", "reserved", "rendered", "sent", "printing", "printed", "reported"]


async def test_every_call_carries_the_service_token_and_an_idempotency_key_made_of_the_job_and_its_step(
    line: Line,
) -> None:
    job = await line.print_one()
    calls = [c for peer in line.peers for c in peer.calls if c.job == job.id]
    assert {c.authorization for c in calls} == {f"Bearer {dispatcher(line.app).gw.settings.service_token}"}
    assert [c.key for c in calls] == [
        f"{job.id}:claim",
        f"{job.id}:sent",
        f"{job.id}:printed",
        f"{job.id}:reserve",
        f"{job.id}:consume",
    ]


async def test_a_link_dropped_while_the_card_prints_is_settled_by_asking_the_printer_and_nothing_prints_twice(
    line: Line,
) -> None:
    # The card comes out while the link is down: the gateway never hears Se's answer and asks Rjs instead.
    await line.emulator.inject(Fault.LINK_DROP, at_card=1)
    job = await line.print_one()
    assert line.cards(job.id) == [("printed", None)]
    assert job.status == "printed"
    assert job.card_serial == line.serial_of(job.id)
    assert line.peers.requests.about(job.id) == ["claims", "sent", "printed"]
    assert line.peers.inventory.about(job.id) == ["reservations", "consume"]


async def test_a_card_from_a_printer_that_does_not_tell_its_serial_goes_to_review_with_its_blank_held(
    open_line: OpenLine,
) -> None:
    # Nobody can say which blank was used: an operator reads the serial off the card.
    extensions = ALL_EXTENSIONS - {Extension.CARD_SERIAL.value}
    async with open_line(emulator={"extensions": extensions}) as line:
        job = await line.print_one()
        assert line.cards(job.id) == [("printed", None)]
        assert job.status == "needs_review"
        _never_requeued(line, job.id)


async def test_a_card_settled_once_is_not_reported_again_when_its_settling_is_retried(line: Line) -> None:
    job = await line.print_one()
    await dispatcher(line.app).steps.settle(job.id, Outcome(Ending.FAILED, reason="a late retry"))
    assert line.peers.requests.about(job.id) == ["claims", "sent", "printed"]
    assert line.peers.inventory.about(job.id) == ["reservations", "consume"]
    assert (await dispatcher(line.app).gw.journal.get(job.id)).status == "printed"  # type: ignore[union-attr]


async def test_a_printer_asking_for_cleaning_gets_a_cleaning_cycle_before_the_next_card(open_line: OpenLine) -> None:
    async with open_line(emulator={"clean_after": 1}) as line:  # due after every card
        await line.print_one("req_01")

        async def cleaned() -> bool:
            return line.emulator.snapshot()["since_cleaning"] == 0

        await wait_for(cleaned, what="a cleaning cycle")
        assert (await line.print_one("req_02")).status == "printed"


# -- the printer says no card came out ---------------------------------------------------------------------


async def test_a_card_refused_before_a_blank_was_fed_fails_without_a_card_and_its_blank_is_released(
    open_line: OpenLine,
) -> None:
    # A second a card: the next card's preparation is due to start later, and is called off.
    async with open_line(emulator={"speed": 3600, "time_scale": 1}) as line:
        await line.emulator.inject(Fault.FEEDER_EMPTY, at_card=1)
        job = await line.print_one()
        assert line.cards(job.id) == []
        assert job.status == "failed"
        assert line.peers.requests.about(job.id) == ["claims", "sent", "failed"]
        [failed] = line.peers.requests.made("failed", job.id)
        assert failed.body["card_used"] is False
        assert "FEEDER EMPTY" in failed.body["reason"]
        assert line.peers.inventory.about(job.id) == ["reservations", "release"]
        assert await line.journal(job.id) == [
            "claimed",
            "reserved",
            "rendered",
            "sent",
            "printing",
            "failed",
            "reported",
        ]
        assert await line.printer() == {"state": "stopped", "reasons": ["media-empty-error"]}


async def test_a_card_jammed_in_the_printer_fails_with_the_card_used_and_exactly_that_blank_is_spoiled(
    line: Line,
) -> None:
    await line.emulator.inject(Fault.CARD_JAM, at_card=1)
    job = await line.print_one()
    jammed = line.emulator.snapshot()["card_inside"]
    assert jammed is not None
    assert jammed["job"] == job.id
    assert job.status == "failed"
    assert job.card_serial == jammed["serial"]
    [failed] = line.peers.requests.made("failed", job.id)
    assert failed.body["card_used"] is True
    assert line.peers.inventory.about(job.id) == ["reservations", "spoil"]
    [spoil] = line.peers.inventory.made("spoil", job.id)
    assert spoil.body == {
        "serial": jammed["serial"],
        "reason": "failed_print",
        "witness": "gateway",
        "printer_id": line.printer_id,
    }
    assert await line.printer() == {"state": "stopped", "reasons": ["media-jam-error"]}


# -- nobody can tell whether the card came out -------------------------------------------------------------


def _never_requeued(line: Line, job_id: str) -> None:
    """Neither service was told anything that would queue the request again or free its blank."""
    assert line.peers.requests.about(job_id) == ["claims", "sent", "needs-review"]
    assert line.peers.inventory.about(job_id) == ["reservations", "hold"]


async def test_power_lost_while_the_card_prints_sends_the_request_to_review_and_holds_its_blank(line: Line) -> None:
    await line.emulator.inject(Fault.POWER_LOSS, at_card=1)
    job = await line.print_one()
    assert job.status == "needs_review"
    _never_requeued(line, job.id)
    assert await line.journal(job.id) == ["claimed", "reserved", "rendered", "sent", "printing", "unknown", "review"]
    assert (await line.printer())["reasons"] == ["offline"]


async def test_a_card_whose_answer_came_too_late_is_settled_by_asking_the_printer_and_not_printed_twice(
    line: Line,
) -> None:
    # The card prints, but the printer's answers now come 0.8 s late: longer than the gateway waits for a
    # card (0.5 s here), shorter than it waits for an answer to a question (2 s). Rjs says the card is out.
    await line.emulator.inject(Fault.SLOW_REPLIES, at_card=1, delay=0.8)
    try:
        job = await line.print_one()
    finally:
        await line.emulator.clear(Fault.SLOW_REPLIES)
    assert line.cards(job.id) == [("printed", None)]
    assert job.status == "printed"
    assert line.peers.requests.about(job.id) == ["claims", "sent", "printed"]
    assert line.peers.inventory.about(job.id) == ["reservations", "consume"]


async def test_a_link_lost_before_the_card_went_out_with_the_printer_gone_is_unknown_too(
    open_line: OpenLine,
) -> None:
    # The printer vanished as the card was being sent and does not answer when asked (for 20 of its card
    # times, 0.1 s here): it may have fed and printed the card, so the outcome is unknown, not failed.
    async with open_line(emulator={"speed": 36000, "time_scale": 1}) as line:
        steps = dispatcher(line.app).steps
        quick = Reconnect(attempts=1, first_delay=0.01, max_delay=0.01)
        assert line.emulator.url is not None
        async with CardPrinter.open(line.emulator.url, timeouts=Timeouts(margin=0.2), reconnect=quick) as printer:
            await line.emulator.inject(Fault.POWER_LOSS)
            outcome = await steps.print(printer, "job_lost_link", {"k": bytes(panel_size(2))})
        assert outcome.ending is Ending.UNKNOWN
        assert outcome.stop_reasons == ["offline"]
        assert not outcome.card_used


# -- the card is handed back before it was sent ------------------------------------------------------------


async def _while_reserving(line: Line, then: Callable[[str], Any]) -> Job:
    """Queue a request, hold its reservation's answer, run ``then(job_id)``, let the answer go; the job settled."""
    gate = asyncio.Event()
    line.peers.inventory.on("POST", "/v1/reservations$", Hold(gate))
    line.peers.requests.queue("req_01")

    async def reserving() -> bool:
        return bool(line.peers.inventory.made("reservations"))

    await wait_for(reserving, what="the reservation call")
    job_id = line.job_of("req_01")
    assert job_id is not None
    await then(job_id)
    gate.set()
    return await job_settled(line.app, lambda: job_id)


async def test_a_printer_stopped_while_its_card_was_prepared_hands_the_card_back_with_no_attempt_counted(
    line: Line,
) -> None:
    async def open_cover(job_id: str) -> None:
        await line.emulator.inject(Fault.COVER_OPEN)

    job = await _while_reserving(line, open_cover)
    assert job.status == "handed_back"
    assert line.peers.requests.about(job.id) == ["claims", "release"]
    assert line.peers.inventory.about(job.id) == ["reservations", "release"]
    assert line.cards(job.id) == []
    assert await line.printer() == {"state": "stopped", "reasons": ["cover-open-error"]}


async def test_a_job_the_operator_cancels_before_it_is_sent_is_handed_back_as_cancelled(
    line: Line, client_for: Callable[..., httpx.AsyncClient], make_token: Callable[..., str]
) -> None:
    async def cancel(job_id: str) -> None:
        async with client_for(line.app, make_token("operator")) as operator:
            response = await operator.post(f"/v1/jobs/{job_id}/cancel")
            assert response.status_code == 202, response.text

    job = await _while_reserving(line, cancel)
    assert job.status == "cancelled"
    assert line.peers.requests.about(job.id) == ["claims", "release"]
    assert line.peers.inventory.about(job.id) == ["reservations", "release"]
    assert line.cards(job.id) == []


async def test_a_lease_lost_while_the_card_was_prepared_abandons_the_job_and_gives_everything_back(
    open_line: OpenLine,
) -> None:
    async with open_line(lease_seconds=0.3) as line:  # renewed every 0.1 s
        line.peers.requests.on("POST", "/renew$", Problem(409, "lease-lost"), always=True)

        async def lease_lost(job_id: str) -> None:
            async def renewal_refused() -> bool:
                return bool(line.peers.requests.made("renew", job_id))

            await wait_for(renewal_refused, what="the lease's renewal")

        job = await _while_reserving(line, lease_lost)
        assert job.status == "handed_back"
        assert job.reason == "lease lost"
        assert line.peers.requests.about(job.id) == ["claims", "release"]
        assert line.peers.inventory.about(job.id) == ["reservations", "release"]
        assert line.cards(job.id) == []


async def test_a_lease_lost_by_the_time_the_card_is_sent_fails_the_job_before_anything_is_printed(
    line: Line,
) -> None:
    line.peers.requests.on("POST", "/sent$", Problem(409, "lease-lost"))
    job = await line.print_one()
    assert job.status == "failed"
    assert line.cards(job.id) == []
    assert line.peers.requests.about(job.id) == ["claims", "sent", "failed"]
    assert line.peers.requests.made("failed", job.id)[0].body["card_used"] is False
    assert line.peers.inventory.about(job.id) == ["reservations", "release"]


async def test_no_blank_for_the_request_hands_the_claim_back_and_the_printer_waits(line: Line) -> None:
    line.peers.inventory.on("POST", "/v1/reservations$", Problem(409, "no-blanks"))
    job = await line.print_one()
    assert job.status == "handed_back"
    assert job.reason == "no-blanks"
    assert line.peers.requests.about(job.id) == ["claims", "release"]
    assert [c.what for c in line.peers.inventory.calls if c.job == job.id] == ["reservations", "release"]
    assert line.cards(job.id) == []


async def test_a_reservation_refused_with_another_problem_hands_the_claim_back_without_retrying(line: Line) -> None:
    line.peers.inventory.on("POST", "/v1/reservations$", Problem(422, "invalid"))
    job = await line.print_one()
    assert job.status == "handed_back"
    assert "reservation refused" in (job.reason or "")
    assert len(line.peers.inventory.made("reservations", job.id)) == 1
    assert line.peers.requests.about(job.id) == ["claims", "release"]


async def test_a_claim_refused_with_a_problem_is_not_retried_and_leaves_no_job(line: Line) -> None:
    line.peers.requests.on("POST", "/v1/queue/claims$", Problem(403, "forbidden"))

    async def refused_then_claimed_again() -> bool:
        return len(line.peers.requests.made("claims")) >= 2

    await wait_for(refused_then_claimed_again, what="a claim after the refused one")
    refused = line.peers.requests.made("claims")[0]
    assert refused.job is not None
    assert [c.job for c in line.peers.requests.calls].count(refused.job) == 1  # the next claim is a new job
    assert await dispatcher(line.app).gw.journal.get(refused.job) is None
    assert line.peers.inventory.calls == []


# -- peers that fail for a while ---------------------------------------------------------------------------


async def test_calls_answered_with_5xx_429_or_a_dropped_connection_are_retried_until_the_card_is_settled(
    line: Line,
) -> None:
    line.peers.requests.on("POST", "/v1/queue/claims$", Problem(503))
    line.peers.inventory.on("POST", "/v1/reservations$", Problem(429), Drop())
    line.peers.requests.on("POST", "/sent$", Drop())
    line.peers.requests.on("POST", "/printed$", Problem(503), Problem(429), Drop())
    line.peers.inventory.on("POST", "/consume$", Problem(500), Drop())
    job = await line.print_one()
    assert job.status == "printed"
    assert job.reason is None  # no problem left over
    assert line.cards(job.id) == [("printed", None)]
    assert line.peers.requests.about(job.id) == ["claims"] * 2 + ["sent"] * 2 + ["printed"] * 4
    assert line.peers.inventory.about(job.id) == ["reservations"] * 3 + ["consume"] * 3
    # Each retry is the same call: the same Idempotency-Key, so a peer that did act on a lost answer acts once.
    assert {c.key for c in line.peers.requests.made("printed", job.id)} == {f"{job.id}:printed"}


async def test_a_report_refused_with_a_problem_is_not_retried_and_the_problem_is_kept_on_the_job(
    line: Line,
) -> None:
    # The request was resolved by an operator meanwhile: 409 stale-job is an answer, not a passing failure.
    line.peers.requests.on("POST", "/printed$", Problem(409, "stale-job"))
    line.peers.inventory.on("POST", "/consume$", Problem(409, "serial-consumed"))
    job = await line.print_one()
    assert job.status == "printed"
    assert len(line.peers.requests.made("printed", job.id)) == 1
    assert len(line.peers.inventory.made("consume", job.id)) == 1
    assert "stale-job" in (job.reason or "")
    assert "serial-consumed" in (job.reason or "")


# -- the printer itself ------------------------------------------------------------------------------------


async def test_an_unreachable_printer_is_stopped_offline_and_nothing_is_claimed_until_it_answers(
    open_line: OpenLine,
) -> None:
    async with open_line() as line:
        await dispatcher(line.app).stop_worker(line.printer_id)
        await line.emulator.inject(Fault.POWER_LOSS)
        line.peers.requests.calls.clear()
        dispatcher(line.app).ensure_worker(line.printer_id)

        async def offline() -> bool:
            return (await line.printer())["reasons"] == ["offline"]

        await wait_for(offline, what="the printer stopped offline")
        assert line.peers.requests.made("claims") == []
        await line.emulator.clear(Fault.POWER_LOSS)
        job = await line.print_one()
        assert job.status == "printed"


async def test_a_claim_the_gateway_cannot_read_does_not_stop_the_printer(line: Line) -> None:
    # A claim without its card: the worker logs it, connects again and prints the next request.
    line.peers.requests.on("POST", "/v1/queue/claims$", Reply(201, '{"job_id": "job_x"}'))
    line.peers.requests.queue("req_01")
    job = await line.print_one("req_02")
    assert job.status == "printed"


async def test_a_printer_removed_by_the_admin_loses_its_worker(
    line: Line, client_for: Callable[..., httpx.AsyncClient], make_token: Callable[..., str]
) -> None:
    worker = dispatcher(line.app).workers[line.printer_id]
    async with client_for(line.app, make_token("admin")) as admin:
        assert (await admin.delete(f"/v1/printers/{line.printer_id}")).status_code == 200

    async def ended() -> bool:
        return worker.task is None or worker.task.done()

    await wait_for(ended, what="the worker to end")


# -- commissioning and capacity ----------------------------------------------------------------------------


async def _commission(line: Line, client: httpx.AsyncClient, name: str) -> dict[str, Any]:
    assert line.emulator.url is not None
    response = await client.post("/v1/printers", json={"name": name, "url": line.emulator.url})
    assert response.status_code == 201, response.text
    printer_id = response.json()["id"]
    assert (await client.post(f"/v1/printers/{printer_id}/commission")).status_code == 202
    seen: dict[str, Any] = {}

    async def done() -> bool:
        seen.update((await client.get(f"/v1/printers/{printer_id}")).json())
        return seen["state"] in ("ready", "registered")

    await wait_for(done, what="commissioning to end")
    return seen


@pytest.fixture
async def operator(
    line: Line, client_for: Callable[..., httpx.AsyncClient], make_token: Callable[..., str]
) -> AsyncIterator[httpx.AsyncClient]:
    """An admin's client: it registers the printer it commissions (an operator may not register)."""
    async with client_for(line.app, make_token("admin")) as client:
        yield client


async def test_commissioning_prints_a_test_card_whose_blank_is_recorded_spoiled(
    line: Line, operator: httpx.AsyncClient
) -> None:
    printer = await _commission(line, operator, "p2")
    assert printer["state"] == "ready"
    [test_card] = [c for c in line.emulator.card_log() if c["test"]]
    [spoil] = line.peers.inventory.made("spoil")
    assert spoil.body == {
        "serial": test_card["serial"],
        "reason": "damaged",
        "witness": "gateway-commissioning",
        "printer_id": printer["id"],
    }


async def test_commissioning_goes_on_when_the_inventory_cannot_record_the_test_card(
    line: Line, operator: httpx.AsyncClient
) -> None:
    line.peers.inventory.on("POST", "/v1/reservations$", Problem(503), always=True)
    printer = await _commission(line, operator, "p2")
    assert printer["state"] == "ready"
    assert len(line.peers.inventory.made("reservations")) == 3  # a few attempts, then the printer comes first
    assert line.peers.inventory.made("spoil") == []


async def test_commissioning_a_printer_that_cannot_print_leaves_it_registered_with_the_reason(
    line: Line, operator: httpx.AsyncClient
) -> None:
    await line.emulator.inject(Fault.COVER_OPEN)
    printer = await _commission(line, operator, "p2")
    assert printer["state"] == "registered"
    assert "cover-open-error" in printer["last_error"]


async def test_the_fleets_rated_capacity_is_published_to_the_request_service(open_line: OpenLine) -> None:
    # 0.01 s a card: 360,000 cards an hour by its rating, published capped at what the request service takes.
    async with open_line(emulator={"speed": 3600, "time_scale": 100}, capacity_publish_interval=0.05) as line:

        async def published() -> bool:
            return any(
                c.body == {"cards_per_hour": 10_000, "printers": 1} for c in line.peers.requests.made("capacity")
            )

        await wait_for(published, what="the capacity published")
