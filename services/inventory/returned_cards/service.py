"""Rules of returned cards: taken into custody once per serial (a retry gets the same record), destroyed once
before a witness. Every change is audited in the caller's transaction; nothing here commits."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.models import utcnow
from services.common.problems import Conflict, NotFound
from services.common.states import check_transition
from services.inventory.dependencies import auditor
from services.inventory.models import ReturnedCard
from services.inventory.returned_cards import repository
from services.inventory.returned_cards.schemas import DestroyIn, ReturnedCardIn, ReturnedCardOut
from services.inventory.states import RETURNED_CARD_TRANSITIONS, ReturnedCardState

__all__ = ["destroy", "read", "receive"]


def _state(card: ReturnedCard) -> dict[str, str | None]:
    return {"state": card.state, "request_id": card.request_id, "witness": card.witness}


def _conflict(card: ReturnedCard) -> Conflict:
    return Conflict(
        f"card {card.serial} is already in custody for request {card.request_id}",
        kind="returned-card-conflict",
        serial=card.serial,
        request_id=card.request_id,
    )


async def receive(session: AsyncSession, principal: Principal, body: ReturnedCardIn) -> tuple[ReturnedCardOut, bool]:
    """``(card, created)``: the card in custody; the same serial again for the same request → the record as it is."""
    existing = await repository.get(session, body.serial)
    if existing is not None:
        if existing.request_id != body.request_id:
            raise _conflict(existing)
        return ReturnedCardOut.model_validate(existing), False
    card = ReturnedCard(
        serial=body.serial,
        request_id=body.request_id,
        state=ReturnedCardState.IN_CUSTODY.value,
        received_by=body.received_by,
        received_at=body.received_at,
        note=body.note,
        recorded_by=principal.subject,
    )
    try:
        async with session.begin_nested():
            session.add(card)
            await session.flush()
    except IntegrityError:  # the same serial recorded meanwhile (a retry racing the first call)
        raced = await repository.get(session, body.serial)
        if raced is None or raced.request_id != body.request_id:
            raise Conflict("card recorded meanwhile; retry", kind="returned-card-in-progress") from None
        return ReturnedCardOut.model_validate(raced), False
    auditor.record(
        session, principal, "returned_card.received", "returned_card", card.serial, before=None, after=_state(card)
    )
    return ReturnedCardOut.model_validate(card), True


async def read(session: AsyncSession, serial: str) -> ReturnedCardOut:
    card = await repository.get(session, serial)
    if card is None:
        raise NotFound(f"no returned card {serial}", kind="returned-card-not-found")
    return ReturnedCardOut.model_validate(card)


async def destroy(session: AsyncSession, principal: Principal, serial: str, body: DestroyIn) -> ReturnedCardOut:
    """Destroyed before ``body.witness``; the same call again (same witness) → 200 as it is, else 409."""
    card = await repository.get(session, serial, for_update=True)
    if card is None:
        raise NotFound(f"no returned card {serial}", kind="returned-card-not-found")
    if card.state == ReturnedCardState.DESTROYED.value and card.witness == body.witness:
        return ReturnedCardOut.model_validate(card)
    before = _state(card)
    check_transition(
        RETURNED_CARD_TRANSITIONS, ReturnedCardState(card.state), ReturnedCardState.DESTROYED, thing="returned card"
    )
    card.state = ReturnedCardState.DESTROYED.value
    card.destroyed_at = utcnow()
    card.destroyed_by = principal.subject
    card.witness = body.witness
    await session.flush()
    auditor.record(
        session, principal, "returned_card.destroyed", "returned_card", serial, before=before, after=_state(card)
    )
    return ReturnedCardOut.model_validate(card)
