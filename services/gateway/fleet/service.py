"""Rules for printers in the database: register, change state (checked), record what a poll found.

Endpoint-facing functions take the endpoint's session and only flush; the ``Fleet*`` helpers at the bottom
open their own short transactions for the background workers.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from drivers import Identity, PrinterStatus
from services.common.auth import Principal, Role
from services.common.db import Database
from services.common.models import utcnow
from services.common.problems import Conflict, NotFound, Unprocessable
from services.common.states import InvalidTransition, check_transition
from services.gateway.audit import auditor
from services.gateway.fleet import repository
from services.gateway.fleet.printer_urls import PrinterUrls, UrlRefused
from services.gateway.fleet.schemas import PrinterIn
from services.gateway.fleet.states import TRANSITIONS, PrinterLifecycle
from services.gateway.models import Printer

__all__ = [
    "COMMISSIONING",
    "FleetStore",
    "change",
    "new_printer_id",
    "register",
    "require",
    "snapshot",
    "transition",
]


# Who registers the printers named in the settings (EKTP_GATEWAY_PRINTERS), for the audit trail.
CONFIGURATION = Principal(subject="gateway-settings", role=Role.SERVICE)
# Who ends a commissioning (ready, or back to registered), for the audit trail.
COMMISSIONING = Principal(subject="gateway-commissioning", role=Role.SERVICE)


def new_printer_id() -> str:
    return f"prn_{uuid.uuid4().hex[:16]}"


def snapshot(printer: Printer) -> dict[str, Any]:
    """What the audit trail keeps of a printer."""
    return {"name": printer.name, "url": printer.url, "state": printer.state, "reasons": list(printer.reasons)}


async def require(session: AsyncSession, printer_id: str) -> Printer:
    printer = await repository.get_printer(session, printer_id)
    if printer is None:
        raise NotFound(f"no printer {printer_id}", kind="printer-not-found")
    return printer


async def register(
    session: AsyncSession,
    principal: Principal,
    body: PrinterIn,
    *,
    urls: PrinterUrls,
    state: PrinterLifecycle = PrinterLifecycle.REGISTERED,
) -> Printer:
    """A new printer in ``state`` (audited); a removed printer's name may be used again.

    Its URL must be one ``urls`` allows (422 naming ``url``): nothing else pyserial can open is stored."""
    try:
        urls.check(body.url)
    except UrlRefused as refused:
        raise Unprocessable.field("url", refused.reason) from None
    existing = await repository.by_name(session, body.name)
    if existing is not None and existing.state != PrinterLifecycle.REMOVED:
        raise Conflict(f"a printer named {body.name!r} is registered", kind="printer-name-taken")
    if existing is not None:
        existing.name = f"{existing.name}~removed~{existing.id}"
        await session.flush()
    printer = Printer(
        id=new_printer_id(),
        name=body.name,
        driver=body.driver,
        url=body.url,
        ribbon=body.ribbon,
        state=state,
        reasons=[],
        supplies={},
        cards_printed=0,
    )
    session.add(printer)
    await session.flush()
    auditor.record(session, principal, "printer.registered", "printer", printer.id, after=snapshot(printer))
    return printer


async def change(
    session: AsyncSession, principal: Principal, printer_id: str, to: PrinterLifecycle, action: str
) -> Printer:
    """An operator's move of a printer (commission, pause, resume, remove): checked, then audited as ``action``."""
    printer = await require(session, printer_id)
    before = snapshot(printer)
    transition(printer, to)
    if to is PrinterLifecycle.COMMISSIONING:
        printer.last_error = None
    auditor.record(session, principal, action, "printer", printer.id, before=before, after=snapshot(printer))
    await session.flush()
    return printer


def _check(current: PrinterLifecycle, to: PrinterLifecycle) -> None:
    """Staying in a state is always allowed (a repeated pause, a poll that finds it ready again)."""
    if current != to:
        check_transition(TRANSITIONS, current, to, thing="printer", kind="printer-state")


def transition(printer: Printer, to: PrinterLifecycle) -> None:
    _check(PrinterLifecycle(printer.state), to)
    printer.state = to


class FleetStore:
    """Short transactions on printers for the background workers (poller, commissioning, dispatch)."""

    def __init__(self, db: Database, urls: PrinterUrls) -> None:
        self.db = db
        self.urls = urls

    async def get(self, printer_id: str) -> Printer | None:
        async with self.db.read_sessions() as session:
            return await repository.get_printer(session, printer_id)

    async def running(self, states: Sequence[PrinterLifecycle]) -> Sequence[Printer]:
        async with self.db.read_sessions() as session:
            return await repository.list_printers(session, states=states)

    async def set_state(
        self,
        printer_id: str,
        to: PrinterLifecycle,
        *,
        only_from: Sequence[PrinterLifecycle] | None = None,
        audit: tuple[Principal, str] | None = None,
        **fields: Any,
    ) -> Printer | None:
        """Move to ``to`` if allowed (and, with ``only_from``, only from those states); None if not.

        ``audit`` = (who, action): the change is written to the audit trail in the same transaction."""
        async with self.db.sessions.begin() as session:
            printer = await repository.get_printer(session, printer_id)
            if printer is None:
                return None
            current = PrinterLifecycle(printer.state)
            if only_from is not None and current not in only_from:
                return None
            try:
                _check(current, to)
            except InvalidTransition:
                return None
            before = snapshot(printer)
            printer.state = to
            for name, value in fields.items():
                setattr(printer, name, value)
            if audit is not None:
                who, action = audit
                auditor.record(session, who, action, "printer", printer.id, before=before, after=snapshot(printer))
            return printer

    async def register_configured(self, name: str, url: str) -> str | None:
        """Register a printer named in the settings unless one of that name exists; its id if registered now."""
        async with self.db.sessions.begin() as session:
            existing = await repository.by_name(session, name)
            if existing is not None and existing.state != PrinterLifecycle.REMOVED:
                return None
            printer = await register(
                session,
                CONFIGURATION,
                PrinterIn(name=name, url=url),
                urls=self.urls,
                state=PrinterLifecycle.COMMISSIONING,
            )
            return printer.id

    async def identified(self, printer_id: str, identity: Identity) -> None:
        async with self.db.sessions.begin() as session:
            printer = await repository.get_printer(session, printer_id)
            if printer is not None:
                printer.model, printer.firmware, printer.serial = identity.model, identity.firmware, identity.serial
                printer.print_time = identity.print_time

    async def polled(self, printer_id: str, status: PrinterStatus) -> Printer | None:
        """Record a poll: reasons and supplies always; ready ⇄ stopped follows whether it accepts work."""
        async with self.db.sessions.begin() as session:
            printer = await repository.get_printer(session, printer_id)
            if printer is None:
                return None
            printer.reasons = [reason.value for reason in status.reasons]
            supplies = {"ribbon_left": status.supplies.ribbon_left, "cards_counter": status.supplies.cards_printed}
            printer.supplies = {k: v for k, v in supplies.items() if v is not None}
            printer.polled_at = utcnow()
            current = PrinterLifecycle(printer.state)
            if current is PrinterLifecycle.READY and not status.accepts_work:
                printer.state = PrinterLifecycle.STOPPED
            elif current is PrinterLifecycle.STOPPED and status.accepts_work:
                printer.state = PrinterLifecycle.READY
            return printer

    async def stopped_by(self, printer_id: str, reasons: Sequence[str], error: str | None = None) -> None:
        """The printer refused a card: stopped with that reason until a poll finds it cleared."""
        async with self.db.sessions.begin() as session:
            printer = await repository.get_printer(session, printer_id)
            if printer is None:
                return
            printer.reasons = sorted(set(printer.reasons) | set(reasons))
            printer.last_error = error
            if printer.state == PrinterLifecycle.READY:
                printer.state = PrinterLifecycle.STOPPED

    async def card_done(self, printer_id: str, cards_per_hour: float | None) -> None:
        async with self.db.sessions.begin() as session:
            printer = await repository.get_printer(session, printer_id)
            if printer is not None:
                printer.cards_printed += 1
                if cards_per_hour is not None:
                    printer.cards_per_hour = cards_per_hour
