"""``PrinterWorker``: one printer's link, status poll, crash recovery and dispatch loop.

The loop prints one card at a time; the next card is claimed, reserved and rendered while the current one
prints, starting shortly before it is due to finish (so an urgent request that arrives meanwhile is still
taken next), and reports go out in the background while the next card prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from drivers import CardPrinter, JobStatus, LinkError, PrinterStatus, Reason
from services.common.tasks import TaskSet, cancel_and_wait, keep_trying, repeat
from services.gateway.dispatch.card import CardSteps, Ending, NoWork, Outcome, Prepared
from services.gateway.dispatch.gateway import Gateway
from services.gateway.fleet.printer_errors import describe, job_failure
from services.gateway.fleet.printer_urls import UrlRefused
from services.gateway.fleet.states import RUNNING, PrinterLifecycle
from services.gateway.journal.steps import Step

__all__ = ["PrinterWorker"]

log = logging.getLogger(__name__)

KEEPALIVE_S = 10.0
REPORT_ATTEMPTS = 10


class _Prefetch:
    """The next card, being prepared while the current one prints (or already prepared: ``ready``)."""

    def __init__(self, worker: PrinterWorker, ribbon: str, delay: float) -> None:
        self.started = False
        self.task: asyncio.Future[Prepared | NoWork] = asyncio.create_task(self._run(worker, ribbon, delay))

    @classmethod
    def ready(cls, prepared: Prepared) -> _Prefetch:
        holder = cls.__new__(cls)
        holder.started = True
        holder.task = asyncio.get_running_loop().create_future()
        holder.task.set_result(prepared)
        return holder

    async def _run(self, worker: PrinterWorker, ribbon: str, delay: float) -> Prepared | NoWork:
        if delay > 0:
            await asyncio.sleep(delay)
        self.started = True
        return await worker.prepare(ribbon)

    async def take(self) -> Prepared | NoWork | None:
        """The prepared card; None if preparing had not begun (it is called off)."""
        if not self.started:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            if not self.started:
                return None
        return await self.task


class PrinterWorker:
    def __init__(self, gw: Gateway, steps: CardSteps, printer_id: str, cancels: set[str]) -> None:
        self.gw, self.steps, self.printer_id = gw, steps, printer_id
        self.cancels = cancels
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.reports = TaskSet()
        self.prepare_seconds = 0.05
        self.link: CardPrinter | None = None
        self._last_seen: object = None
        self._last_written = 0.0

    def start(self) -> None:
        self.task = asyncio.create_task(self.run(), name=f"printer {self.printer_id}")

    def nudge(self) -> None:
        self.wake.set()

    async def finish(self, within: float) -> None:
        """Let the worker end by itself (it stops after the card it is printing), else stop it."""
        self.nudge()
        if self.task is not None:
            await asyncio.wait({self.task}, timeout=within)
        await self.stop()

    async def stop(self) -> None:
        await cancel_and_wait([t for t in (self.task, *self.reports) if t is not None])
        self.task = None

    async def _wait(self, seconds: float) -> None:
        # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation that arrives as the
        # awaited event is set (gh-86296), and a worker that outlives its stop() hangs the gateway's shutdown.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self.wake.wait()
        self.wake.clear()

    # -- the link ------------------------------------------------------------------------------------

    async def run(self) -> None:
        """Connect and print until the printer leaves the running states; any failure (a dropped link, the
        database restarting, a bug) is logged and the worker starts again after ``poll_interval``."""
        while True:
            try:
                if not await self._connect_and_print():
                    return
            except asyncio.CancelledError:
                raise
            except Exception:  # keep the printer's worker alive through a bug or a database restart
                log.exception("printer worker failed; starting again", extra={"printer_id": self.printer_id})
                await self._wait(self.gw.settings.poll_interval)

    async def _connect_and_print(self) -> bool:
        """One connection's work; False when the worker should end (printer paused, removed, commissioning)."""
        gw = self.gw
        row = await gw.fleet.get(self.printer_id)
        if row is None or PrinterLifecycle(row.state) not in RUNNING:
            return False
        try:
            async with gw.open_printer(row) as printer:
                self.link = printer
                await gw.fleet.identified(self.printer_id, printer.identity)
                await self._poll_once(printer)
                await self.recover(printer)
                poller = asyncio.create_task(
                    repeat(
                        lambda: self._poll_once(printer, force=False),
                        every=gw.settings.poll_interval,
                        wait_first=True,
                        what="status poll",
                        extra={"printer_id": self.printer_id},
                    )
                )
                try:
                    await self._dispatch(printer, row.ribbon)
                    return False
                finally:
                    await cancel_and_wait([poller])
        except (LinkError, UrlRefused) as exc:
            # The whole text (it may hold what the far end sent) for the log; our own sentence for the API.
            if isinstance(exc, UrlRefused):
                log.warning("printer URL refused: %s", exc, extra={"printer_id": self.printer_id})
            else:
                log.debug("printer link failed: %s", exc, extra={"printer_id": self.printer_id})
            await gw.fleet.stopped_by(self.printer_id, [Reason.OFFLINE.value], describe(exc))
            await self._wait(gw.settings.poll_interval)
            return True
        finally:
            self.link = None

    async def _poll_once(self, printer: CardPrinter, *, force: bool = True) -> PrinterStatus:
        status = await printer.status()
        # Supplies move with every card: they are written with the keep-alive, state and reasons at once.
        seen = (status.accepts_work, status.reasons)
        now = time.monotonic()
        # Write only what changed (and now and then, so polled_at shows the poll is alive).
        if force or seen != self._last_seen or now - self._last_written > KEEPALIVE_S:
            self._last_seen, self._last_written = seen, now
            row = await self.gw.fleet.polled(self.printer_id, status)
            if row is not None and row.state == PrinterLifecycle.READY:
                self.wake.set()
        return status

    # -- recovery ------------------------------------------------------------------------------------

    async def recover(self, printer: CardPrinter) -> None:
        """Settle this printer's jobs left at ``printing`` by a crash: ask the printer what happened."""
        for job in await self.gw.journal.unfinished(self.printer_id):
            if job.step != Step.PRINTING:
                continue
            while True:
                outcome = await self.steps.ask(printer, job.id, attempts=1)
                if outcome.status is not JobStatus.PRINTING:
                    break
                await asyncio.sleep(max(0.05, (printer.identity.print_time or 1.0) / 4))
            log.info("recovered job %s: the printer says %s", job.id, outcome.status)
            detail = {"recovered": True, "printer_says": outcome.status.value}
            if outcome.status is JobStatus.DONE and outcome.serial:
                await self.steps.report_printed(job, outcome.serial, detail=detail)
            elif outcome.status is JobStatus.FAILED:
                reason = job_failure(outcome.reason) or "failed"
                await self.steps.report_failed(job, reason, serial=outcome.serial, detail=detail)
            else:
                await self.steps.report_unknown(job, "gateway restarted; the printer cannot tell what came out")

    # -- dispatch ------------------------------------------------------------------------------------

    async def prepare(self, ribbon: str, *, wait_seconds: float = 0.0) -> Prepared | NoWork:
        started = time.monotonic()
        try:
            return await self.steps.prepare(self.printer_id, ribbon, wait_seconds=wait_seconds)
        finally:
            if not wait_seconds:  # a claim that waited for work says nothing about how long preparing takes
                self.prepare_seconds = 0.7 * self.prepare_seconds + 0.3 * (time.monotonic() - started)

    async def _hand_back(self, prefetch: _Prefetch | None, reason: str) -> None:
        if prefetch is None:
            return
        prepared = await prefetch.take()
        if isinstance(prepared, Prepared):
            prepared.lease.stop()
            await self.steps.hand_back(prepared.job_id, reason)

    async def _dispatch(self, printer: CardPrinter, ribbon: str) -> None:
        gw = self.gw
        prefetch: _Prefetch | None = None
        try:
            while True:
                row = await gw.fleet.get(self.printer_id)
                if row is None or PrinterLifecycle(row.state) not in RUNNING:
                    # Removed, or being commissioned again: give back the card not sent and let go of the link.
                    await self._hand_back(prefetch, f"printer {row.state if row else 'gone'}")
                    prefetch = None
                    return
                if row.state != PrinterLifecycle.READY or not gw.settings.start_loops:
                    await self._hand_back(prefetch, f"printer {row.state}")
                    prefetch = None
                    await self._wait(gw.settings.poll_interval)
                    continue
                status = await printer.status()
                if not status.accepts_work:
                    await self._poll_once(printer)
                    await self._hand_back(prefetch, "printer stopped: " + ",".join(r.value for r in status.reasons))
                    prefetch = None
                    continue
                if Reason.OTHER_WARNING in status.reasons and gw.settings.clean_between_cards:
                    log.info("cleaning cycle", extra={"printer_id": self.printer_id})
                    await printer.clean()
                    continue
                if prefetch is not None:
                    prepared = await prefetch.take()
                    prefetch = None
                else:
                    # Idle: the claim waits at the request service until a request is queued (long polling).
                    started = time.monotonic()
                    prepared = await self.prepare(ribbon, wait_seconds=gw.settings.claim_wait_seconds)
                    if isinstance(prepared, Prepared):
                        # The printer may have been paused or stopped while the claim waited: look again (the
                        # checks above) before sending.
                        prefetch = _Prefetch.ready(prepared)
                        continue
                    if prepared is NoWork.QUEUE_EMPTY and time.monotonic() - started >= gw.settings.idle_claim_interval:
                        continue  # the wait happened at the request service
                if prepared is None:
                    continue
                if isinstance(prepared, NoWork):
                    await self._wait(gw.settings.idle_claim_interval)
                    continue
                if prepared.lease.lost or prepared.job_id in self.cancels:
                    prepared.lease.stop()
                    cancelled = prepared.job_id in self.cancels
                    self.cancels.discard(prepared.job_id)
                    await self.steps.hand_back(
                        prepared.job_id, "cancelled" if cancelled else "lease lost", cancelled=cancelled
                    )
                    continue
                print_time = printer.identity.print_time or 0.0
                # Start preparing the next card this long before the current one is due out: enough to have it
                # ready (claims and reservations slow down when the peers are busy), late enough that an
                # urgent request arriving meanwhile is the one claimed.
                lead = min(max(0.25, 3 * self.prepare_seconds), print_time / 2)
                prefetch = _Prefetch(self, ribbon, max(0.0, print_time - lead))
                outcome = await self.steps.send_and_print(printer, self.printer_id, prepared)
                self._report(prepared, outcome)
                if outcome.stop_reasons:
                    await gw.fleet.stopped_by(self.printer_id, outcome.stop_reasons, outcome.reason)
                    self._last_seen = None  # the next poll writes, and brings it back when the printer is fine
        finally:
            if prefetch is not None:
                # Leaving (removed, shut down): the card not sent yet goes back to the queue.
                prefetch.task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await prefetch.task

    def _report(self, prepared: Prepared, outcome: Outcome) -> None:
        async def report() -> None:
            try:
                # Reports are idempotent by job id; the journal keeps the step, so what is still unreported after
                # the last attempt goes out at the next start.
                await keep_trying(
                    lambda: self.steps.settle(prepared.job_id, outcome, lease=prepared.lease),
                    what="reporting",
                    wait=self.gw.settings.poll_interval,
                    attempts=REPORT_ATTEMPTS,
                    extra={"job_id": prepared.job_id},
                )
            finally:
                prepared.lease.stop()

        self.reports.spawn(report(), name=f"report {prepared.job_id}")
        if outcome.ending is not Ending.PRINTED:
            log.warning("card %s: %s (%s)", prepared.job_id, outcome.ending, outcome.reason)
