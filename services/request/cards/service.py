"""Rules of the card registry: register a printed card, follow its request, invalidate it for a replacement,
take it back (surrender) into the inventory's custody. Functions flush, never commit; every change is audited
(object_type ``card``, object_id the serial): that is the card's status history."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.peers import PeerAnswer, PeerError
from services.common.problems import Conflict, NotFound, ServiceUnavailable
from services.common.states import check_transition
from services.request.cards import repository
from services.request.cards.schemas import CardOut, SurrenderIn
from services.request.cards.states import TRANSITIONS, VALID, CardStatus
from services.request.clients.inventory import InventoryClient
from services.request.context import ServiceContext
from services.request.models import Card, PrintRequest

__all__ = ["follow", "invalidate", "of_request", "read", "register", "surrender"]


def _state(card: Card | None) -> dict[str, Any]:
    if card is None:
        return {"status": None}
    return {"status": card.status, "request_id": card.request_id, "replaced_by": card.replaced_by_request_id}


async def _move(
    session: AsyncSession,
    context: ServiceContext,
    principal: Principal,
    card: Card,
    target: CardStatus,
    *,
    note: str | None = None,
    **changes: Any,
) -> Card:
    before = _state(card)
    check_transition(TRANSITIONS, CardStatus(card.status), target, thing="card", serial=card.serial)
    card.status = target.value
    card.updated_at = context.clock()
    if note is not None:
        card.status_note = note[:300]
    for name, value in changes.items():
        setattr(card, name, value)
    await session.flush()
    context.auditor.record(
        session, principal, f"card.{target.value}", "card", card.serial, before=before, after=_state(card)
    )
    return card


async def register(
    session: AsyncSession, context: ServiceContext, principal: Principal, request: PrintRequest, serial: str
) -> Card:
    """The card printed for ``request``: ``printed`` in the registry (the same report again changes nothing).

    A serial already registered to another request is 409 ``serial-registered``: one blank is one card."""
    card = await repository.get(session, serial, for_update=True)
    if card is not None:
        if card.request_id != request.id:
            raise Conflict(
                f"card {serial} is registered to another request",
                kind="serial-registered",
                serial=serial,
                request_id=card.request_id,
            )
        return card
    now = context.clock()
    card = Card(
        serial=serial,
        request_id=request.id,
        nik=request.nik,
        status=CardStatus.PRINTED.value,
        printed_at=request.printed_at or now,
        updated_at=now,
    )
    session.add(card)
    await session.flush()
    context.auditor.record(
        session, principal, "card.registered", "card", serial, before=_state(None), after=_state(card)
    )
    return card


async def follow(
    session: AsyncSession, context: ServiceContext, principal: Principal, request: PrintRequest, target: CardStatus
) -> None:
    """The request's card follows its activation or handover (a request without a registered card: nothing)."""
    if request.card_serial is None:
        return
    card = await repository.get(session, request.card_serial, for_update=True)
    if card is not None and card.request_id == request.id and card.status != target.value:
        await _move(session, context, principal, card, target)


async def of_request(
    session: AsyncSession, context: ServiceContext, principal: Principal, request: PrintRequest
) -> Card | None:
    """The card printed for ``request`` (registered now if it was printed before the registry), or None."""
    if request.card_serial is None:
        return None
    return await register(session, context, principal, request, request.card_serial)


async def invalidate(
    session: AsyncSession,
    context: ServiceContext,
    principal: Principal,
    card: Card,
    target: CardStatus,
    *,
    replaced_by: str,
    police_report: str | None,
    note: str | None,
) -> Card:
    """The serial is no longer valid (``replaced``, ``lost`` or ``damaged``): a replacement request took over."""
    return await _move(
        session, context, principal, card, target,
        note=note, replaced_by_request_id=replaced_by, police_report=police_report,
    )  # fmt: skip


async def read(session: AsyncSession, serial: str) -> CardOut:
    card = await repository.get(session, serial)
    if card is None:
        raise NotFound(f"no card {serial}", kind="card-not-found")
    replacement_serial = None
    if card.replaced_by_request_id is not None:
        replacement_serial = await repository.serial_of_request(session, card.replaced_by_request_id)
    return CardOut(
        serial=card.serial,
        status=CardStatus(card.status),
        valid=CardStatus(card.status) in VALID,
        request_id=card.request_id,
        printed_at=card.printed_at,
        updated_at=card.updated_at,
        status_note=card.status_note,
        replaced_by_request_id=card.replaced_by_request_id,
        replaced_by_serial=replacement_serial,
        police_report=card.police_report,
        surrendered_at=card.surrendered_at,
        surrender_received_by=card.surrender_received_by,
    )


async def surrender(
    session: AsyncSession,
    context: ServiceContext,
    principal: Principal,
    serial: str,
    body: SurrenderIn,
    inventory: InventoryClient,
) -> None:
    """The old card handed in: ``surrendered`` here and in the inventory's custody, or neither.

    The inventory is told inside this transaction (idempotent by serial), so if it does not answer nothing is
    kept (503) and the officer tries again; a surrender already recorded tells the inventory again (a lost
    answer last time) and changes nothing here."""
    card = await repository.get(session, serial, for_update=True)
    if card is None:
        raise NotFound(f"no card {serial}", kind="card-not-found")
    if card.status != CardStatus.SURRENDERED.value:
        now = context.clock()
        await _move(
            session, context, principal, card, CardStatus.SURRENDERED,
            note=body.note, surrendered_at=now, surrender_received_by=body.received_by,
        )  # fmt: skip
    await _tell_inventory(inventory, card)


async def _tell_inventory(inventory: InventoryClient, card: Card) -> None:
    received_at: dt.datetime = card.surrendered_at or card.updated_at
    try:
        await inventory.return_card(
            serial=card.serial,
            request_id=card.request_id,
            received_by=card.surrender_received_by or "",
            received_at=received_at,
            note=card.status_note,
        )
    except PeerAnswer as exc:
        raise Conflict(
            f"the inventory refused the returned card: {exc.body.get('detail') or exc.kind}",
            kind="inventory-refused",
            inventory_problem=exc.kind,
        ) from None
    except PeerError as exc:
        raise ServiceUnavailable(
            f"the inventory does not answer; retry: {exc}", kind="inventory-unavailable", headers={"Retry-After": "1"}
        ) from None
