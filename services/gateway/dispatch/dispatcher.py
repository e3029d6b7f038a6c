"""``Dispatcher``: starts a worker per running printer, recovers the journal at start, commissions
printers, and publishes the fleet's measured capacity to the request service."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from fastapi import Depends, Request

from drivers import DriverError
from services.common.models import utcnow
from services.common.peers import PeerPolicy
from services.common.tasks import TaskSet, keep_trying, repeat
from services.gateway.dispatch.card import CardSteps
from services.gateway.dispatch.gateway import Gateway
from services.gateway.dispatch.worker import PrinterWorker
from services.gateway.errors import PeerError
from services.gateway.fleet.printer_errors import NotReady, describe
from services.gateway.fleet.printer_urls import UrlRefused
from services.gateway.fleet.service import COMMISSIONING
from services.gateway.fleet.states import RUNNING, PrinterLifecycle
from services.gateway.journal.service import new_job_id
from services.gateway.journal.steps import PRE_SEND, Step

__all__ = ["Dispatcher", "DispatcherDep", "get_dispatcher"]

log = logging.getLogger(__name__)

SHORT = PeerPolicy(attempts=3, max_seconds=5.0)


class Dispatcher:
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.steps = CardSteps(gw)
        self.workers: dict[str, PrinterWorker] = {}
        self.cancels: set[str] = set()
        self._tasks = TaskSet()

    async def start(self) -> None:
        """Recover the journal and start the workers in the background (a peer may be down)."""
        # Every step of the start is idempotent: after a failure it is tried again, so the printers never stay
        # without a loop.
        settings = self.gw.settings
        self._tasks.spawn(keep_trying(self._start, what="starting the dispatch", wait=settings.poll_interval))
        self._tasks.spawn(
            repeat(
                self._publish_capacity,
                every=settings.capacity_publish_interval,
                what="publishing the capacity",
                expected=(PeerError, OSError),
            ),
            name="capacity",
        )

    async def _start(self) -> None:
        # Printers caught mid-commissioning by a crash go back to registered.
        for printer in await self.gw.fleet.running([PrinterLifecycle.COMMISSIONING]):
            await self.gw.fleet.set_state(printer.id, PrinterLifecycle.REGISTERED, last_error="interrupted")
        for name, url in self.gw.settings.printer_list():
            printer_id = await self.gw.fleet.register_configured(name, url)
            if printer_id is not None:
                log.info("printer %s (%s) registered from the settings; commissioning", name, url)
                self.commission_later(printer_id)
        await self.recover_journal()
        for printer in await self.gw.fleet.running(list(RUNNING)):
            self.ensure_worker(printer.id)

    async def stop(self) -> None:
        await self._tasks.stop()
        await asyncio.gather(*(worker.stop() for worker in self.workers.values()))
        self.workers.clear()

    # -- recovery ------------------------------------------------------------------------------------

    async def recover_journal(self) -> None:
        """Jobs a crash left unfinished: hand back what was not sent, finish reporting what was decided.

        Jobs at ``printing`` wait for their printer's worker, which asks the printer (``Rjs``).
        """
        steps = self.steps
        for job in await self.gw.journal.unfinished():
            step = Step(job.step)
            log.info("recovering job %s at %s", job.id, step)
            if step in PRE_SEND or step is Step.RELEASING:
                await steps.hand_back(job.id, "gateway restarted before sending")
            elif step is Step.SENT:
                # Written before the card went to the printer: nothing was printed for it.
                await steps.report_failed(job, "gateway restarted before printing", serial=None)
            elif step is Step.PRINTED:
                await steps.report_printed(job, job.card_serial or "")
            elif step is Step.FAILED:
                await steps.report_failed(job, job.reason or "failed", serial=job.card_serial)
            elif step is Step.UNKNOWN:
                await steps.report_unknown(job, job.reason or "outcome unknown")

    # -- workers -------------------------------------------------------------------------------------

    def ensure_worker(self, printer_id: str) -> PrinterWorker:
        worker = self.workers.get(printer_id)
        if worker is None or worker.task is None or worker.task.done():
            worker = PrinterWorker(self.gw, self.steps, printer_id, self.cancels)
            self.workers[printer_id] = worker
            worker.start()
        return worker

    def nudge(self, printer_id: str) -> None:
        worker = self.workers.get(printer_id)
        if worker is not None:
            worker.nudge()

    async def stop_worker(self, printer_id: str) -> None:
        worker = self.workers.pop(printer_id, None)
        if worker is not None:
            await worker.stop()

    def cancel(self, job_id: str) -> None:
        self.cancels.add(job_id)

    # -- commissioning -------------------------------------------------------------------------------

    def commission_later(self, printer_id: str) -> asyncio.Task[None]:
        return self._tasks.spawn(self.commission(printer_id), name=f"commission {printer_id}")

    async def commission(self, printer_id: str) -> None:
        """Handshake, identify, status, a self-test card, status OK → ready; else back to registered."""
        gw = self.gw
        worker = self.workers.pop(printer_id, None)
        if worker is not None:
            # The state is commissioning now: the worker finishes its card, hands back the next, and ends.
            await worker.finish(within=(worker.link.identity.print_time or 120.0) * 2 + 30 if worker.link else 30)
        row = await gw.fleet.get(printer_id)
        if row is None:
            return
        try:
            async with gw.open_printer(row) as printer:
                await gw.fleet.identified(printer_id, printer.identity)
                before = await printer.status()
                if not before.accepts_work:
                    raise NotReady(before.reasons)
                serial = await printer.self_test()
                if serial:
                    await self._account_test_card(printer_id, serial)
                after = await printer.status()
                await gw.fleet.polled(printer_id, after)
                if not after.accepts_work:
                    raise NotReady(after.reasons, after_test=True)
        except (DriverError, NotReady, UrlRefused, RuntimeError, OSError) as exc:
            # The whole text (it may hold what the far end sent) for the log; our own sentence for the API.
            log.warning("commissioning %s failed: %s", printer_id, exc)
            await gw.fleet.set_state(
                printer_id,
                PrinterLifecycle.REGISTERED,
                audit=(COMMISSIONING, "printer.commissioning_failed"),
                last_error=f"commissioning failed: {describe(exc)}",
            )
            return
        done = await gw.fleet.set_state(
            printer_id,
            PrinterLifecycle.READY,
            only_from=[PrinterLifecycle.COMMISSIONING],
            audit=(COMMISSIONING, "printer.commissioned"),
            commissioned_at=utcnow(),
            last_error=None,
        )
        if done is not None:
            self.ensure_worker(printer_id)

    async def _account_test_card(self, printer_id: str, serial: str) -> None:
        """The self-test used a blank from the hopper: record it at the inventory as spoiled (best effort)."""
        inventory = self.gw.inventory
        job_id = new_job_id()
        try:
            await inventory.call(
                "POST",
                "/v1/reservations",
                body={"job_id": job_id, "urgent": False, "ttl_seconds": 60},
                key=f"{job_id}:reserve",
                policy=SHORT,
            )
            await inventory.call(
                "POST",
                f"/v1/reservations/{job_id}/spoil",
                body={
                    "serial": serial,
                    "reason": "damaged",
                    "witness": "gateway-commissioning",
                    "printer_id": printer_id,
                },
                key=f"{job_id}:spoil",
                policy=SHORT,
            )
        except PeerError as exc:
            log.warning("test card %s not recorded at the inventory: %s", serial, exc)

    # -- capacity ------------------------------------------------------------------------------------

    async def capacity(self) -> tuple[float, int]:
        """Cards an hour the ready printers make (measured, else rated by their print time), and how many."""
        total, count = 0.0, 0
        for printer in await self.gw.fleet.running([PrinterLifecycle.READY]):
            count += 1
            measured = self.gw.meter.cards_per_hour(printer.id) or printer.cards_per_hour
            if measured:
                total += measured
            elif printer.print_time:
                total += 3600.0 / printer.print_time
        return total, count

    async def _publish_capacity(self) -> None:
        cards_per_hour, printers = await self.capacity()
        await self.gw.requests.put_capacity(cards_per_hour, printers)


def get_dispatcher(request: Request) -> Dispatcher:
    """Where endpoints find the running dispatcher: ``app.state.dispatcher``, made in the app's lifespan."""
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]
