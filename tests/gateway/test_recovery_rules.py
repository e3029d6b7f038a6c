"""What the gateway decides, on a restart, for each job a crash left unfinished.

Before ``sent`` nothing went to a printer: the claim and the blank are handed back. At ``sent`` the card data
had not gone out yet: the job failed without a card. A decided outcome (``printed``, ``failed``, ``unknown``)
is reported again. A job at ``printing`` is settled by asking its printer (``Rjs``) what became of the card;
only a printer that says DONE with a serial makes it printed, and a printer that cannot tell sends the request
to review with its blank held, never back to the queue (that could print a second card).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from drivers import JobOutcome, JobStatus
from services.gateway.dispatch.worker import PrinterWorker
from services.gateway.journal.steps import Step
from services.gateway.models import Job
from tests.gateway.in_process import InProcessGateway


@pytest.fixture
def backend() -> str:
    """SQLite only: these are the gateway's decisions; the journal itself runs on both in test_journal.py."""
    return "sqlite"


def calls_for(office: InProcessGateway, job_id: str) -> list[tuple[str, Any]]:
    """``(path without the job id, body)`` of every call the peers got about ``job_id``, in order."""
    return [(path.replace(f"/{job_id}/", "/…/"), body) for _, path, body in office.peers.calls if job_id in path]


async def job_at(office: InProcessGateway, printer_id: str, *steps: Step, **fields: Any) -> str:
    """A job journalled up to ``steps``; ``fields`` (card_serial, reason) are written with the last step."""
    job_id = await office.job(printer_id, steps=steps[:-1])
    await office.dispatcher.gw.journal.advance(job_id, steps[-1], **fields)
    return job_id


async def journal_detail(office: InProcessGateway, job_id: str, step: str) -> dict[str, Any]:
    """The detail journalled with ``step``, as an operator reads it (``GET /v1/jobs/{id}``)."""
    response = await office.by_role["operator"].get(f"/v1/jobs/{job_id}")
    assert response.status_code == 200, response.text
    detail: dict[str, Any] = next(entry for entry in response.json()["journal"] if entry["step"] == step)["detail"]
    return detail


async def job(office: InProcessGateway, job_id: str) -> Job:
    found = await office.dispatcher.gw.journal.get(job_id)
    assert found is not None
    return found


# -- the journal at start ---------------------------------------------------------------------------------


async def test_a_job_only_claimed_gives_its_claim_back_and_has_no_blank_to_release(office: InProcessGateway) -> None:
    printer = await office.printer("p1")
    job_id = await office.job(printer)

    await office.dispatcher.recover_journal()

    assert calls_for(office, job_id) == [("/v1/queue/claims/…/release", {})]
    recovered = await job(office, job_id)
    assert (recovered.step, recovered.status) == ("released", "handed_back")
    assert recovered.reason == "gateway restarted before sending"


@pytest.mark.parametrize(
    "steps",
    [(Step.RESERVED,), (Step.RESERVED, Step.RENDERED), (Step.RESERVED, Step.RELEASING)],
    ids=["reserved", "rendered", "releasing"],
)
async def test_a_job_not_yet_sent_gives_back_its_claim_and_its_blank(
    office: InProcessGateway, steps: tuple[Step, ...]
) -> None:
    printer = await office.printer("p1")
    job_id = await office.job(printer, steps=steps)

    await office.dispatcher.recover_journal()

    assert calls_for(office, job_id) == [
        ("/v1/queue/claims/…/release", {}),
        ("/v1/reservations/…/release", {}),
    ]
    assert (await job(office, job_id)).status == "handed_back"


async def test_a_job_at_sent_failed_before_printing_so_no_card_was_used_and_its_blank_is_released(
    office: InProcessGateway,
) -> None:
    printer = await office.printer("p1")
    job_id = await office.job(printer, steps=(Step.RESERVED, Step.RENDERED, Step.SENT))

    await office.dispatcher.recover_journal()

    assert calls_for(office, job_id) == [
        ("/v1/queue/claims/…/failed", {"reason": "gateway restarted before printing", "card_used": False}),
        ("/v1/reservations/…/release", {}),
    ]
    recovered = await job(office, job_id)
    assert (recovered.step, recovered.status, recovered.card_serial) == ("reported", "failed", None)


async def test_a_card_journalled_printed_is_reported_printed_with_its_serial_and_that_blank_consumed(
    office: InProcessGateway,
) -> None:
    printer = await office.printer("p1")
    steps = (Step.RESERVED, Step.RENDERED, Step.SENT, Step.PRINTING, Step.PRINTED)
    job_id = await job_at(office, printer, *steps, card_serial="KTP00000042")

    await office.dispatcher.recover_journal()

    assert calls_for(office, job_id) == [
        ("/v1/queue/claims/…/printed", {"card_serial": "KTP00000042", "printer_id": printer}),
        ("/v1/reservations/…/consume", {"serial": "KTP00000042", "request_id": "req_01", "printer_id": printer}),
    ]
    assert (await job(office, job_id)).status == "printed"


async def test_a_card_journalled_failed_with_a_blank_used_is_reported_with_its_reason_and_that_blank_spoiled(
    office: InProcessGateway,
) -> None:
    printer = await office.printer("p1")
    steps = (Step.RESERVED, Step.RENDERED, Step.SENT, Step.PRINTING, Step.FAILED)
    job_id = await job_at(office, printer, *steps, card_serial="KTP00000043", reason="CARD JAM")

    await office.dispatcher.recover_journal()

    assert calls_for(office, job_id) == [
        ("/v1/queue/claims/…/failed", {"reason": "CARD JAM", "card_used": True}),
        (
            "/v1/reservations/…/spoil",
            {"serial": "KTP00000043", "reason": "failed_print", "witness": "gateway", "printer_id": printer},
        ),
    ]


async def test_a_card_journalled_failed_without_a_reason_is_reported_as_failed(office: InProcessGateway) -> None:
    printer = await office.printer("p1")
    job_id = await office.job(printer, steps=(Step.RESERVED, Step.RENDERED, Step.SENT, Step.FAILED))

    await office.dispatcher.recover_journal()

    assert calls_for(office, job_id)[0] == ("/v1/queue/claims/…/failed", {"reason": "failed", "card_used": False})


@pytest.mark.parametrize(("reason", "said"), [("power lost", "power lost"), (None, "outcome unknown")])
async def test_an_unknown_outcome_sends_the_request_to_review_and_holds_its_blank(
    office: InProcessGateway, reason: str | None, said: str
) -> None:
    printer = await office.printer("p1")
    steps = (Step.RESERVED, Step.RENDERED, Step.SENT, Step.PRINTING, Step.UNKNOWN)
    job_id = await job_at(office, printer, *steps, reason=reason)

    await office.dispatcher.recover_journal()

    assert calls_for(office, job_id) == [
        ("/v1/queue/claims/…/needs-review", {"reason": said}),
        ("/v1/reservations/…/hold", {"reason": said}),
    ]
    assert (await job(office, job_id)).step == "review"


async def test_a_job_at_printing_is_left_for_its_printer_to_settle(office: InProcessGateway) -> None:
    printer = await office.printer("p1")
    job_id = await office.job(printer, steps=(Step.RESERVED, Step.RENDERED, Step.SENT, Step.PRINTING))

    await office.dispatcher.recover_journal()

    assert calls_for(office, job_id) == []
    assert (await job(office, job_id)).step == "printing"


# -- asking the printer -----------------------------------------------------------------------------------


@dataclass
class Identity:
    print_time: float | None = 0.01


@dataclass
class AnsweringPrinter:
    """A printer that answers ``Rjs`` from a script: the outcomes for each job, in order (the last repeats)."""

    answers: dict[str, list[JobOutcome]]
    identity: Identity = field(default_factory=Identity)
    asked: list[str] = field(default_factory=list)

    async def job_outcome(self, job_id: str) -> JobOutcome:
        self.asked.append(job_id)
        script = self.answers[job_id]
        return script.pop(0) if len(script) > 1 else script[0]


@pytest.fixture
def worker_for(office: InProcessGateway) -> Iterator[Any]:
    def make(printer_id: str) -> PrinterWorker:
        dispatcher = office.dispatcher
        return PrinterWorker(dispatcher.gw, dispatcher.steps, printer_id, dispatcher.cancels)

    return make


async def printing_job(office: InProcessGateway, printer: str) -> str:
    return await office.job(printer, steps=(Step.RESERVED, Step.RENDERED, Step.SENT, Step.PRINTING))


async def test_a_card_the_printer_says_is_done_is_reported_printed_with_the_printers_serial(
    office: InProcessGateway, worker_for: Any
) -> None:
    printer = await office.printer("p1")
    job_id = await printing_job(office, printer)
    answering = AnsweringPrinter({job_id: [JobOutcome(JobStatus.DONE, serial="KTP00000007")]})

    await worker_for(printer).recover(answering)

    assert calls_for(office, job_id) == [
        ("/v1/queue/claims/…/printed", {"card_serial": "KTP00000007", "printer_id": printer}),
        ("/v1/reservations/…/consume", {"serial": "KTP00000007", "request_id": "req_01", "printer_id": printer}),
    ]
    recovered = await job(office, job_id)
    assert (recovered.status, recovered.card_serial) == ("printed", "KTP00000007")
    assert await journal_detail(office, job_id, "printed") == {
        "serial": "KTP00000007",
        "recovered": True,
        "printer_says": "DONE",
    }


async def test_the_printer_is_asked_again_while_the_card_is_still_inside(
    office: InProcessGateway, worker_for: Any
) -> None:
    printer = await office.printer("p1")
    job_id = await printing_job(office, printer)
    still_inside = JobOutcome(JobStatus.PRINTING)
    answering = AnsweringPrinter({job_id: [still_inside, still_inside, JobOutcome(JobStatus.DONE, serial="KTP9")]})

    await worker_for(printer).recover(answering)

    assert answering.asked == [job_id] * 3
    assert calls_for(office, job_id)[0] == (
        "/v1/queue/claims/…/printed",
        {"card_serial": "KTP9", "printer_id": printer},
    )


@pytest.mark.parametrize(
    ("outcome", "failed"),
    [
        (
            JobOutcome(JobStatus.FAILED, serial="KTP00000008", reason="CARD JAM"),
            {"reason": "the printer reported CARD JAM (media-jam-error)", "card_used": True},
        ),
        (JobOutcome(JobStatus.FAILED), {"reason": "failed", "card_used": False}),
        # A reason that is no error word is the far end's text: it is not passed on.
        (JobOutcome(JobStatus.FAILED, reason="SSH-2.0-OpenSSH_9.2 secret"), {"reason": "failed", "card_used": False}),
    ],
    ids=["blank-used", "no-blank", "not-a-word"],
)
async def test_a_card_the_printer_says_failed_is_reported_failed_with_the_blank_it_used_if_any(
    office: InProcessGateway, worker_for: Any, outcome: JobOutcome, failed: dict[str, Any]
) -> None:
    printer = await office.printer("p1")
    job_id = await printing_job(office, printer)

    await worker_for(printer).recover(AnsweringPrinter({job_id: [outcome]}))

    calls = calls_for(office, job_id)
    assert calls[0] == ("/v1/queue/claims/…/failed", failed)
    assert calls[1][0] == ("/v1/reservations/…/spoil" if outcome.serial else "/v1/reservations/…/release")
    assert (await journal_detail(office, job_id, "failed"))["printer_says"] == "FAILED"


@pytest.mark.parametrize(
    "outcome",
    [JobOutcome(JobStatus.UNKNOWN), JobOutcome(JobStatus.DONE, serial=None)],
    ids=["printer-cannot-tell", "done-without-a-serial"],
)
async def test_a_printer_that_cannot_say_which_card_came_out_sends_the_request_to_review_and_holds_the_blank(
    office: InProcessGateway, worker_for: Any, outcome: JobOutcome
) -> None:
    printer = await office.printer("p1")
    job_id = await printing_job(office, printer)

    await worker_for(printer).recover(AnsweringPrinter({job_id: [outcome]}))

    reason = "gateway restarted; the printer cannot tell what came out"
    assert calls_for(office, job_id) == [
        ("/v1/queue/claims/…/needs-review", {"reason": reason}),
        ("/v1/reservations/…/hold", {"reason": reason}),
    ]
    assert (await job(office, job_id)).step == "review"


async def test_a_printer_is_asked_about_each_of_its_own_jobs_left_at_printing_and_no_other(
    office: InProcessGateway, worker_for: Any
) -> None:
    printer = await office.printer("p1")
    other = await office.printer("p2")
    not_sent = await office.job(printer, steps=(Step.RESERVED,))
    mine = await printing_job(office, printer)
    theirs = await printing_job(office, other)
    answering = AnsweringPrinter({mine: [JobOutcome(JobStatus.DONE, serial="KTP1")]})

    await worker_for(printer).recover(answering)

    assert answering.asked == [mine]
    assert calls_for(office, not_sent) == calls_for(office, theirs) == []
