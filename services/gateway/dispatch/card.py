"""The steps of one card, each journaled before it is taken; shared by the dispatch loop, crash recovery
and an operator's resolution.

``prepare`` (claim, reserve, render) → ``send_and_print`` (sent, print) → ``settle`` (report to both
services) — or ``hand_back`` before anything was sent.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from drivers import (
    CardPrinter,
    JobOutcome,
    JobStatus,
    LinkError,
    OutcomeUnknown,
    PrinterError,
)
from services.gateway.dispatch.gateway import Gateway
from services.gateway.dispatch.lease import LeaseKeeper
from services.gateway.errors import NoBlanks, PeerAnswer
from services.gateway.fleet.printer_errors import describe, job_failure
from services.gateway.journal.service import new_job_id
from services.gateway.journal.steps import JobState, Step
from services.gateway.models import CARD_IMAGES, Job
from services.gateway.rendering import render_panels

__all__ = ["CardSteps", "Ending", "NoWork", "Outcome", "Prepared"]

log = logging.getLogger(__name__)

WITNESS = "gateway"


class NoWork(StrEnum):
    """Why ``prepare`` came back without a card."""

    QUEUE_EMPTY = "queue-empty"
    NO_BLANKS = "no-blanks"
    REFUSED = "refused"


@dataclass
class Prepared:
    job_id: str
    request_id: str
    priority: str
    card: dict[str, Any]
    panels: dict[str, bytes]
    lease: LeaseKeeper

    def forget_images(self) -> None:
        """Let go of the photo and signature held in memory, in the card and drawn into the panels: once the card
        data has gone to the printer (or never will), nothing prints this job from memory again."""
        self.panels = {}
        for name in CARD_IMAGES:
            self.card.pop(name, None)


class Ending(StrEnum):
    PRINTED = "printed"
    FAILED = "failed"
    UNKNOWN = "unknown"


@dataclass
class Outcome:
    """How a card ended at the printer: printed (serial), failed (blank used: serial) or unknown."""

    ending: Ending
    serial: str | None = None
    reason: str = ""
    stop_reasons: list[str] = field(default_factory=list)

    @property
    def card_used(self) -> bool:
        return self.ending is Ending.FAILED and self.serial is not None


class CardSteps:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw

    # -- before anything is sent ----------------------------------------------------------------------

    async def prepare(self, printer_id: str, ribbon: str, *, wait_seconds: float = 0.0) -> Prepared | NoWork:
        """Claim the next request, reserve a blank for it and render it; or say why there is no card.

        ``wait_seconds``: with nothing queued, the claim waits that long for a request (long polling).
        """
        gw = self.gw
        job_id = new_job_id()
        await gw.journal.begin(job_id, printer_id)
        try:
            claim = await gw.requests.claim(job_id, printer_id, gw.settings.lease_seconds, wait_seconds=wait_seconds)
        except PeerAnswer as exc:
            log.warning("claim refused: %s", exc)
            await gw.journal.discard(job_id)
            return NoWork.REFUSED
        if claim is None:
            await gw.journal.discard(job_id)
            return NoWork.QUEUE_EMPTY
        lease = LeaseKeeper(gw.requests, job_id, gw.settings.lease_seconds).start()
        urgent = claim.priority == "urgent"
        card = claim.card.model_dump(mode="json")
        card.setdefault("issued_at", dt.date.today().isoformat())
        await gw.journal.advance(
            job_id,
            Step.RESERVED,
            request_id=claim.request_id,
            priority=claim.priority,
            card=card,
            detail={"request_id": claim.request_id, "priority": claim.priority, "urgent": urgent},
        )
        try:
            await gw.inventory.reserve(job_id, urgent=urgent, ttl_seconds=gw.settings.reservation_ttl_seconds)
        except NoBlanks:
            lease.stop()
            await self.hand_back(job_id, "no-blanks")
            return NoWork.NO_BLANKS
        except PeerAnswer as exc:
            lease.stop()
            await self.hand_back(job_id, f"reservation refused: {exc}")
            return NoWork.REFUSED
        await gw.journal.advance(job_id, Step.RENDERED)
        try:
            panels = await asyncio.to_thread(render_panels, card, ribbon=ribbon)
        except Exception as exc:  # a card that cannot be drawn must not stop the printer
            log.exception("rendering failed", extra={"job_id": job_id})
            lease.stop()
            await self.hand_back(job_id, f"rendering failed: {exc}")
            return NoWork.REFUSED
        return Prepared(job_id, claim.request_id, claim.priority, card, panels, lease)

    async def hand_back(self, job_id: str, reason: str, *, cancelled: bool = False) -> None:
        """Give the claim and the blank back (nothing was sent): the request is queued again, no attempt."""
        gw = self.gw
        job = await gw.journal.get(job_id)
        if job is None or job.step == Step.RELEASED:
            return
        if job.step != Step.RELEASING:
            await gw.journal.advance(job_id, Step.RELEASING, detail={"reason": reason})
        try:
            await gw.requests.release(job_id)
        except PeerAnswer as exc:
            log.info("claim release: %s", exc, extra={"job_id": job_id})
        if job.step != Step.CLAIMED:
            try:
                await gw.inventory.release(job_id)
            except PeerAnswer as exc:
                log.info("reservation release: %s", exc, extra={"job_id": job_id})
        await gw.journal.advance(
            job_id, Step.RELEASED, reason=reason, state=JobState.CANCELLED if cancelled else JobState.HANDED_BACK
        )

    # -- at the printer -------------------------------------------------------------------------------

    async def send_and_print(self, printer: CardPrinter, printer_id: str, job: Prepared) -> Outcome:
        gw = self.gw
        try:
            await gw.journal.advance(job.job_id, Step.SENT, detail={"printer_id": printer_id})
            try:
                await gw.requests.sent(job.job_id, printer_id)
            except PeerAnswer as exc:
                return Outcome(Ending.FAILED, reason=f"request service refused sent: {exc}")
            await gw.journal.advance(job.job_id, Step.PRINTING)
            return await self.print(printer, job.job_id, job.panels)
        finally:
            job.forget_images()  # the report that follows needs none; the database keeps them until it is told

    async def print(self, printer: CardPrinter, job_id: str, panels: dict[str, bytes]) -> Outcome:
        # A job's reason goes to the API and the request service: our own sentence, the whole text to the log.
        try:
            serial = await printer.print_card(job_id, panels)
        except OutcomeUnknown as exc:
            log.warning("card at the printer: %s", exc, extra={"job_id": job_id})
            return Outcome(Ending.UNKNOWN, reason=describe(exc), stop_reasons=["offline"])
        except (PrinterError, LinkError) as exc:
            log.warning("card at the printer: %s", exc, extra={"job_id": job_id})
            stops = [exc.reason.value] if isinstance(exc, PrinterError) and exc.reason else []
            if isinstance(exc, LinkError):
                stops = ["offline"]
            outcome = await self.ask(printer, job_id)
            return self._from_printer(outcome, describe(exc), stops)
        if serial is None:
            return Outcome(Ending.UNKNOWN, reason="the printer reported no card serial")
        return Outcome(Ending.PRINTED, serial=serial)

    async def ask(self, printer: CardPrinter, job_id: str, *, attempts: int = 20) -> JobOutcome:
        """The printer's word on a job, waiting while its card is still inside; UNKNOWN if it never answers.

        PRINTING if the card is still inside after ``attempts``: the printer did not say "unknown", and a
        caller must not take it for "no card was fed" (crash recovery asks again)."""
        interval = max(0.05, min(1.0, (printer.identity.print_time or 1.0) / 4))
        last = JobOutcome(JobStatus.UNKNOWN)
        for _ in range(attempts):
            try:
                outcome = await printer.job_outcome(job_id)
            except LinkError:
                await asyncio.sleep(interval)
                continue
            if outcome.status is not JobStatus.PRINTING:
                return outcome
            last = outcome
            await asyncio.sleep(interval)
        return last

    @staticmethod
    def _from_printer(outcome: JobOutcome, error: str, stops: list[str]) -> Outcome:
        if outcome.status is JobStatus.DONE:
            return Outcome(Ending.PRINTED, serial=outcome.serial)
        if outcome.status is JobStatus.FAILED:
            reason = job_failure(outcome.reason) or error
            return Outcome(Ending.FAILED, serial=outcome.serial, reason=reason, stop_reasons=stops)
        if outcome.status is JobStatus.UNKNOWN and stops != ["offline"]:
            # The printer answers and never fed a card for the job: nothing came out, no blank used.
            return Outcome(Ending.FAILED, reason=error, stop_reasons=stops)
        return Outcome(Ending.UNKNOWN, reason=f"{error}; the printer says {outcome.status}", stop_reasons=stops)

    # -- reporting ------------------------------------------------------------------------------------

    async def settle(self, job_id: str, outcome: Outcome, *, lease: LeaseKeeper | None = None) -> None:
        """Journal the outcome, then tell both services (retried until they answer).

        The lease is renewed until the request service has the outcome, not a moment longer.
        """
        job = await self.gw.journal.get(job_id)
        if job is None or job.step in (Step.REPORTED, Step.RELEASED):  # already settled (a retried settle)
            return
        if outcome.ending is Ending.PRINTED:
            await self.report_printed(job, outcome.serial or "", lease=lease)
        elif outcome.ending is Ending.FAILED:
            await self.report_failed(job, outcome.reason, serial=outcome.serial, lease=lease)
        else:
            await self.report_unknown(job, outcome.reason, lease=lease)

    async def report_printed(
        self, job: Job, serial: str, *, detail: dict[str, Any] | None = None, lease: LeaseKeeper | None = None
    ) -> None:
        gw = self.gw
        if job.step != Step.PRINTED:
            await gw.journal.advance(
                job.id, Step.PRINTED, card_serial=serial, detail={"serial": serial} | (detail or {})
            )
        problems = []
        try:
            await gw.requests.printed(job.id, serial, job.printer_id)
        except PeerAnswer as exc:
            problems.append(f"request service: {exc}")
        _stop(lease)
        try:
            await gw.inventory.consume(job.id, serial, job.request_id or "", job.printer_id)
        except PeerAnswer as exc:
            problems.append(f"inventory: {exc}")
        await gw.journal.advance(
            job.id,
            Step.REPORTED,
            state=JobState.PRINTED,
            reason="; ".join(problems) or None,
            detail=_problems(problems),
        )
        cards_per_hour = gw.meter.card_done(job.printer_id)
        await gw.fleet.card_done(job.printer_id, cards_per_hour)

    async def report_failed(
        self,
        job: Job,
        reason: str,
        *,
        serial: str | None,
        detail: dict[str, Any] | None = None,
        lease: LeaseKeeper | None = None,
    ) -> None:
        gw = self.gw
        card_used = serial is not None
        if job.step != Step.FAILED:
            await gw.journal.advance(
                job.id,
                Step.FAILED,
                card_serial=serial,
                reason=reason,
                detail={"reason": reason, "card_used": card_used, "serial": serial} | (detail or {}),
            )
        problems = []
        try:
            await gw.requests.failed(job.id, reason or "failed", card_used=card_used)
        except PeerAnswer as exc:
            problems.append(f"request service: {exc}")
        _stop(lease)
        try:
            if serial is not None:
                await gw.inventory.spoil(
                    job.id, serial, reason="failed_print", witness=WITNESS, printer_id=job.printer_id
                )
            else:
                await gw.inventory.release(job.id)
        except PeerAnswer as exc:
            problems.append(f"inventory: {exc}")
        await gw.journal.advance(job.id, Step.REPORTED, state=JobState.FAILED, detail=_problems(problems))

    async def report_unknown(self, job: Job, reason: str, *, lease: LeaseKeeper | None = None) -> None:
        gw = self.gw
        if job.step != Step.UNKNOWN:
            await gw.journal.advance(job.id, Step.UNKNOWN, reason=reason, detail={"reason": reason})
        problems = []
        try:
            await gw.requests.needs_review(job.id, reason or "outcome unknown")
        except PeerAnswer as exc:
            problems.append(f"request service: {exc}")
        _stop(lease)
        try:
            await gw.inventory.hold(job.id, reason or "outcome unknown")
        except PeerAnswer as exc:
            problems.append(f"inventory: {exc}")
        await gw.journal.advance(job.id, Step.REVIEW, detail=_problems(problems))


def _stop(lease: LeaseKeeper | None) -> None:
    if lease is not None:
        lease.stop()


def _problems(problems: list[str]) -> dict[str, Any] | None:
    return {"problems": problems} if problems else None
