"""``/v1/printers``: register and remove (admin); commission, pause, resume, list and read (operator, admin).

Registering decides which port the gateway will open, so it is the admin's: the URL is checked against the
gateway's settings (services/gateway/fleet/printer_urls.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from services.common.auth import Authorize, Principal, Role
from services.common.db import DbSession, ReadSession, after_commit
from services.gateway.dispatch.dispatcher import DispatcherDep
from services.gateway.fleet import repository, service
from services.gateway.fleet.schemas import PrinterIn, PrinterOut
from services.gateway.fleet.states import PrinterLifecycle

__all__ = ["router"]

router = APIRouter(prefix="/v1/printers", tags=["printers"])
manage = Authorize(Role.ADMIN, Role.OPERATOR)
administer = Authorize(Role.ADMIN)
Manager = Annotated[Principal, Depends(manage)]
Admin = Annotated[Principal, Depends(administer)]


@router.post(
    "",
    status_code=201,
    response_model=PrinterOut,
    summary="Register a printer (admin): its URL must be a serial device or printer endpoint the settings allow",
)
async def register_printer(
    body: PrinterIn, session: DbSession, principal: Admin, dispatcher: DispatcherDep
) -> PrinterOut:
    printer = await service.register(session, principal, body, urls=dispatcher.gw.printer_urls)
    return PrinterOut.model_validate(printer)


@router.get("", response_model=list[PrinterOut], summary="The fleet with states, reasons and supplies")
async def list_printers(
    session: ReadSession, _: Manager, include_removed: Annotated[bool, Query()] = False
) -> list[PrinterOut]:
    printers = await repository.list_printers(session, include_removed=include_removed)
    return [PrinterOut.model_validate(p) for p in printers]


@router.get("/{printer_id}", response_model=PrinterOut, summary="One printer")
async def get_printer(printer_id: str, session: ReadSession, _: Manager) -> PrinterOut:
    return PrinterOut.model_validate(await service.require(session, printer_id))


@router.post(
    "/{printer_id}/commission",
    status_code=202,
    response_model=PrinterOut,
    summary="Commission: handshake, identify, self-test card, status OK → ready (runs in the background)",
)
async def commission_printer(
    printer_id: str, session: DbSession, principal: Manager, dispatcher: DispatcherDep
) -> PrinterOut:
    printer = await service.change(
        session, principal, printer_id, PrinterLifecycle.COMMISSIONING, "printer.commissioning"
    )
    after_commit(session, lambda: dispatcher.commission_later(printer_id))
    return PrinterOut.model_validate(printer)


@router.post("/{printer_id}/pause", response_model=PrinterOut, summary="Pause: finish the card printing, take no more")
async def pause_printer(
    printer_id: str, session: DbSession, principal: Manager, dispatcher: DispatcherDep
) -> PrinterOut:
    printer = await service.change(session, principal, printer_id, PrinterLifecycle.PAUSED, "printer.paused")
    after_commit(session, lambda: dispatcher.nudge(printer_id))
    return PrinterOut.model_validate(printer)


@router.post("/{printer_id}/resume", response_model=PrinterOut, summary="Resume a paused printer")
async def resume_printer(
    printer_id: str, session: DbSession, principal: Manager, dispatcher: DispatcherDep
) -> PrinterOut:
    printer = await service.change(session, principal, printer_id, PrinterLifecycle.READY, "printer.resumed")
    after_commit(session, lambda: dispatcher.ensure_worker(printer_id).nudge())
    return PrinterOut.model_validate(printer)


@router.delete("/{printer_id}", response_model=PrinterOut, summary="Remove a printer from the fleet (admin)")
async def remove_printer(
    printer_id: str, session: DbSession, principal: Admin, dispatcher: DispatcherDep
) -> PrinterOut:
    printer = await service.change(session, principal, printer_id, PrinterLifecycle.REMOVED, "printer.removed")
    after_commit(session, lambda: dispatcher.nudge(printer_id))
    return PrinterOut.model_validate(printer)
