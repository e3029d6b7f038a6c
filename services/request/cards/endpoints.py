"""``/v1/cards``: a printed card's status by serial, and the surrender of an old card."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request

from services.common.auth import Authorize, Principal, Role
from services.common.db import DbSession, ReadSession
from services.common.problems import problem_responses
from services.request.cards import service
from services.request.cards.schemas import CardOut, SurrenderIn
from services.request.clients.inventory import InventoryClient
from services.request.context import Context

__all__ = ["router"]

router = APIRouter(prefix="/v1/cards", tags=["cards"])

reader = Authorize(Role.ADMIN, Role.OPERATOR, Role.SERVICE)
desk = Authorize(Role.ADMIN, Role.OPERATOR)

Serial = Annotated[str, Path(pattern=r"^[A-Z0-9]{4,40}$")]


async def _inventory(request: Request) -> InventoryClient:
    client: InventoryClient = request.app.state.inventory_client
    return client


@router.get(
    "/{serial}",
    response_model=CardOut,
    summary="A card's status: valid or not, and which request (and card) replaced it",
    responses=problem_responses(401, 403, 404),
)
async def get_card(serial: Serial, session: ReadSession, _: Annotated[Principal, Depends(reader)]) -> CardOut:
    return await service.read(session, serial)


@router.post(
    "/{serial}/surrender",
    response_model=CardOut,
    summary="An invalid card handed in: it goes to the inventory's custody, awaiting destruction",
    responses=problem_responses(401, 403, 404, 409, 503),
)
async def surrender_card(
    serial: Serial,
    body: SurrenderIn,
    session: DbSession,
    context: Context,
    principal: Annotated[Principal, Depends(desk)],
    inventory: Annotated[InventoryClient, Depends(_inventory)],
) -> CardOut:
    await service.surrender(session, context, principal, serial, body, inventory)
    return await service.read(session, serial)
