"""What the gateway does at start with each job a crash left unfinished, checked in seconds.

A gateway journals a job up to some step and stops (the crash); a second gateway starts on the same database,
between the request and inventory services as small real web apps (tests/gateway/peers.py) and a software
printer on a real port. What each service is told then depends only on the step the job stopped at and, for a
card that was at the printer, on what the printer says about it (``Rjs``): docs/gateway.md, "Recovery at start".
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from drivers import CardJam, CardPrinter, FeederEmpty, Timeouts, panel_size
from drivers.emulator import Emulator, EmulatorConfig, Fault
from services.gateway.config import Settings
from services.gateway.journal.service import new_job_id
from services.gateway.journal.steps import Step
from services.gateway.models import Job, JournalEntry
from tests.gateway.conftest import SAMPLE_CARD
from tests.gateway.peers import Peers, Problem, dispatcher, gateway_between, job_settled, peers_running, printer_ready
from tests.support import wait_for

REQUEST_ID = "req_01"
SERIAL = "KTP00000001"  # the first blank in the emulator's hopper
PANELS = {"k": bytes(panel_size(2))}


@pytest.fixture
def backend() -> str:
    """SQLite only: these are the recovery's decisions; the journal runs on both in test_journal.py."""
    return "sqlite"


@dataclass
class GatewayWithEmulator:
    peers: Peers
    emulator: Emulator
    settings: Settings
    problems: list[str] = field(default_factory=list)  # noted on the job's journal at the last restart

    @contextlib.asynccontextmanager
    async def gateway(self) -> AsyncIterator[FastAPI]:
        """A gateway on the office's database; the block starts once its start-up recovery is over."""
        async with gateway_between(self.settings, self.peers) as app:
            yield app

    async def crashed_at(self, *steps: Step, **fields: Any) -> tuple[str, str]:
        """A gateway that journalled a job through ``steps`` (each with ``fields`` where the loop sets them)
        and stopped there; a printer ready for it. (printer id, job id)."""
        async with self.gateway() as app:
            assert self.emulator.url is not None
            printer_id = await printer_ready(app, "p1", self.emulator.url, worker=False)
            journal = dispatcher(app).gw.journal
            job_id = new_job_id()
            await journal.begin(job_id, printer_id)
            for step in steps:
                values: dict[str, Any] = {}
                if step is Step.RESERVED:
                    values = {"request_id": REQUEST_ID, "priority": "regular", "card": SAMPLE_CARD}
                elif step in (Step.PRINTED, Step.FAILED, Step.UNKNOWN):
                    values = fields
                await journal.advance(job_id, step, **values)
        for peer in self.peers:
            peer.calls.clear()
        return printer_id, job_id

    async def restarted(self, job_id: str) -> tuple[Job, list[str]]:
        """Start the gateway again; the job once it settled, and its journal's steps."""
        async with self.gateway() as app:
            job = await job_settled(app, lambda: job_id)
            async with dispatcher(app).gw.db.read_sessions() as session:
                entries = (
                    await session.execute(
                        select(JournalEntry.step, JournalEntry.detail)
                        .where(JournalEntry.job_id == job_id)
                        .order_by(JournalEntry.id)
                    )
                ).all()
        self.problems = [problem for _, detail in entries for problem in (detail or {}).get("problems", [])]
        return job, [step for step, _ in entries]

    def told(self, job_id: str) -> tuple[list[str], list[str]]:
        """What the request service and the inventory heard about ``job_id`` (call names, in order)."""
        return self.peers.requests.about(job_id), self.peers.inventory.about(job_id)


@pytest.fixture
def open_office(
    gateway_settings: Callable[..., Settings], make_token: Callable[..., str], tmp_path: Path
) -> Callable[..., contextlib.AbstractAsyncContextManager[GatewayWithEmulator]]:
    @contextlib.asynccontextmanager
    async def open_(**emulator: Any) -> AsyncIterator[GatewayWithEmulator]:
        settings = gateway_settings(
            service_token=make_token("service"),
            start_loops=False,  # no new work: only what the start recovers
            poll_interval=0.05,
            peer_retry_max_wait=0.05,
            card_margin=0.5,
        )
        config: dict[str, Any] = {"time_scale": math.inf, "state_dir": tmp_path / "emu"}
        async with Emulator(EmulatorConfig(**(config | emulator))) as emu, peers_running() as peers:
            yield GatewayWithEmulator(peers, emu, settings)

    return open_


@pytest.fixture
async def office(
    open_office: Callable[..., contextlib.AbstractAsyncContextManager[GatewayWithEmulator]],
) -> AsyncIterator[GatewayWithEmulator]:
    async with open_office() as office:
        yield office


# -- before anything went to the printer -------------------------------------------------------------------

UNSENT = [
    pytest.param((), ["release"], [], id="claimed"),
    pytest.param((Step.RESERVED,), ["release"], ["release"], id="reserved"),
    pytest.param((Step.RESERVED, Step.RENDERED), ["release"], ["release"], id="rendered"),
    pytest.param((Step.RESERVED, Step.RENDERED, Step.RELEASING), ["release"], ["release"], id="releasing"),
]


@pytest.mark.parametrize(("steps", "request_service", "inventory"), UNSENT)
async def test_a_job_stopped_before_it_was_sent_is_handed_back_claim_and_blank(
    office: GatewayWithEmulator, steps: tuple[Step, ...], request_service: list[str], inventory: list[str]
) -> None:
    _, job_id = await office.crashed_at(*steps)
    job, journal = await office.restarted(job_id)
    assert job.status == "handed_back"
    assert journal[-2:] == ["releasing", "released"]
    assert office.told(job_id) == (request_service, inventory)


async def test_a_job_stopped_at_sent_failed_without_a_card_since_nothing_went_to_the_printer(
    office: GatewayWithEmulator,
) -> None:
    # "sent" is written before the request service hears it, and "printing" before the card data goes out.
    _, job_id = await office.crashed_at(Step.RESERVED, Step.RENDERED, Step.SENT)
    job, journal = await office.restarted(job_id)
    assert job.status == "failed"
    assert journal[-2:] == ["failed", "reported"]
    assert office.told(job_id) == (["failed"], ["release"])
    assert office.peers.requests.made("failed", job_id)[0].body["card_used"] is False
    assert office.emulator.card_log() == []


# -- decided before the crash, not yet reported ------------------------------------------------------------

AT_PRINTER = (Step.RESERVED, Step.RENDERED, Step.SENT, Step.PRINTING)


async def test_a_job_stopped_after_its_card_was_printed_is_reported_printed_again_with_its_serial(
    office: GatewayWithEmulator,
) -> None:
    _, job_id = await office.crashed_at(*AT_PRINTER, Step.PRINTED, card_serial=SERIAL)
    job, _ = await office.restarted(job_id)
    assert job.status == "printed"
    assert office.told(job_id) == (["printed"], ["consume"])
    assert office.peers.requests.made("printed", job_id)[0].body["card_serial"] == SERIAL
    assert office.peers.inventory.made("consume", job_id)[0].body["serial"] == SERIAL


@pytest.mark.parametrize(
    ("serial", "inventory"),
    [pytest.param(SERIAL, "spoil", id="card-used"), pytest.param(None, "release", id="no-card")],
)
async def test_a_job_stopped_after_it_failed_is_reported_failed_again_and_its_blank_spoiled_or_released(
    office: GatewayWithEmulator, serial: str | None, inventory: str
) -> None:
    _, job_id = await office.crashed_at(*AT_PRINTER, Step.FAILED, card_serial=serial, reason="CARD JAM")
    job, _ = await office.restarted(job_id)
    assert job.status == "failed"
    assert office.told(job_id) == (["failed"], [inventory])
    assert office.peers.requests.made("failed", job_id)[0].body == {
        "reason": "CARD JAM",
        "card_used": serial is not None,
    }


async def test_a_job_stopped_as_unknown_goes_to_review_and_its_blank_is_held(office: GatewayWithEmulator) -> None:
    _, job_id = await office.crashed_at(*AT_PRINTER, Step.UNKNOWN, reason="power lost")
    job, journal = await office.restarted(job_id)
    assert job.status == "needs_review"
    assert journal[-2:] == ["unknown", "review"]
    assert office.told(job_id) == (["needs-review"], ["hold"])


async def test_reports_that_meet_a_peer_down_at_start_are_retried_until_it_answers(office: GatewayWithEmulator) -> None:
    _, job_id = await office.crashed_at(*AT_PRINTER, Step.PRINTED, card_serial=SERIAL)
    office.peers.requests.on("POST", "/printed$", Problem(503), Problem(502), Problem(429))
    office.peers.inventory.on("POST", "/consume$", Problem(503))
    job, _ = await office.restarted(job_id)
    assert job.status == "printed"
    assert job.reason is None
    assert office.told(job_id) == (["printed"] * 4, ["consume"] * 2)


REFUSED = [
    pytest.param((Step.PRINTED,), {"card_serial": SERIAL}, "printed", "consume", "printed", id="printed"),
    pytest.param(
        (Step.FAILED,), {"card_serial": SERIAL, "reason": "CARD JAM"}, "failed", "spoil", "failed", id="spoiled"
    ),
    pytest.param((Step.FAILED,), {"reason": "FEEDER EMPTY"}, "failed", "release", "failed", id="released"),
    pytest.param((Step.UNKNOWN,), {"reason": "power lost"}, "needs-review", "hold", "needs_review", id="unknown"),
]


@pytest.mark.parametrize(("steps", "fields", "report", "blank", "status"), REFUSED)
async def test_reports_the_peers_refuse_at_start_are_not_retried_and_the_job_keeps_the_problems(
    office: GatewayWithEmulator, steps: tuple[Step, ...], fields: dict[str, Any], report: str, blank: str, status: str
) -> None:
    # An operator resolved the request while the gateway was down: 409 is an answer, not a passing failure.
    _, job_id = await office.crashed_at(*AT_PRINTER, *steps, **fields)
    office.peers.requests.on("POST", f"/{report}$", Problem(409, "stale-job"))
    office.peers.inventory.on("POST", f"/{blank}$", Problem(409, "reservation-closed"))
    job, _ = await office.restarted(job_id)
    assert job.status == status
    assert office.told(job_id) == ([report], [blank])
    assert [problem.split(":")[0] for problem in office.problems] == ["request service", "inventory"]
    assert "stale-job" in office.problems[0]
    assert "reservation-closed" in office.problems[1]


async def test_a_hand_back_the_peers_refuse_still_ends_the_job_handed_back(office: GatewayWithEmulator) -> None:
    # The lease ran out while the gateway was down: the request service no longer has the claim.
    _, job_id = await office.crashed_at(Step.RESERVED, Step.RENDERED)
    office.peers.requests.on("POST", "/release$", Problem(409, "stale-job"))
    office.peers.inventory.on("POST", "/release$", Problem(409, "reservation-closed"))
    job, _ = await office.restarted(job_id)
    assert job.status == "handed_back"
    assert office.told(job_id) == (["release"], ["release"])


# -- the card was at the printer: ask it -------------------------------------------------------------------


async def _print_at_the_printer(emulator: Emulator, job_id: str) -> None:
    """What the gateway did just before it died: the job's card sent to the printer."""
    assert emulator.url is not None
    async with CardPrinter.open(emulator.url, timeouts=Timeouts(margin=1.0)) as printer:
        await printer.print_card(job_id, PANELS)


async def test_a_card_that_came_out_while_the_gateway_was_down_is_reported_printed_and_never_printed_again(
    office: GatewayWithEmulator,
) -> None:
    _, job_id = await office.crashed_at(*AT_PRINTER)
    await _print_at_the_printer(office.emulator, job_id)
    job, journal = await office.restarted(job_id)
    assert job.status == "printed"
    assert job.card_serial == SERIAL
    assert journal[-2:] == ["printed", "reported"]
    assert office.told(job_id) == (["printed"], ["consume"])
    assert [c["job"] for c in office.emulator.card_log()] == [job_id]


async def test_a_card_jammed_while_the_gateway_was_down_is_reported_failed_and_its_blank_spoiled(
    office: GatewayWithEmulator,
) -> None:
    _, job_id = await office.crashed_at(*AT_PRINTER)
    await office.emulator.inject(Fault.CARD_JAM, at_card=1)
    with pytest.raises(CardJam):
        await _print_at_the_printer(office.emulator, job_id)
    job, _ = await office.restarted(job_id)
    assert job.status == "failed"
    assert office.told(job_id) == (["failed"], ["spoil"])
    assert office.peers.requests.made("failed", job_id)[0].body["card_used"] is True
    assert office.peers.inventory.made("spoil", job_id)[0].body["serial"] == SERIAL


async def test_a_card_refused_before_a_blank_was_fed_while_the_gateway_was_down_releases_its_blank(
    office: GatewayWithEmulator,
) -> None:
    _, job_id = await office.crashed_at(*AT_PRINTER)
    await office.emulator.inject(Fault.FEEDER_EMPTY, at_card=1)
    with pytest.raises(FeederEmpty):
        await _print_at_the_printer(office.emulator, job_id)
    job, _ = await office.restarted(job_id)
    assert job.status == "failed"
    assert office.told(job_id) == (["failed"], ["release"])
    assert office.peers.requests.made("failed", job_id)[0].body["card_used"] is False


async def test_a_card_the_printer_cannot_tell_about_goes_to_review_and_its_blank_is_held(
    office: GatewayWithEmulator,
) -> None:
    # Killed between journalling "printing" and the card being fed, or the printer lost power with the card
    # inside: Rjs answers UNKNOWN, and nobody may say no card came out.
    _, job_id = await office.crashed_at(*AT_PRINTER)
    job, journal = await office.restarted(job_id)
    assert job.status == "needs_review"
    assert journal[-2:] == ["unknown", "review"]
    assert office.told(job_id) == (["needs-review"], ["hold"])


async def test_a_card_still_printing_at_start_is_waited_for_then_reported_as_it_came_out(
    open_office: Callable[..., contextlib.AbstractAsyncContextManager[GatewayWithEmulator]],
) -> None:
    async with open_office(speed=7200, time_scale=1) as office:  # half a second a card
        _, job_id = await office.crashed_at(*AT_PRINTER)
        printing = asyncio.create_task(_print_at_the_printer(office.emulator, job_id))

        async def inside() -> bool:
            card = office.emulator.snapshot()["card_inside"]
            return card is not None and card["job"] == job_id

        await wait_for(inside, what="the card inside the printer")
        job, _ = await office.restarted(job_id)
        await printing
        assert job.status == "printed"
        assert office.told(job_id) == (["printed"], ["consume"])
        assert [c["outcome"] for c in office.emulator.card_log()] == ["printed"]
