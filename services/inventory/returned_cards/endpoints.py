"""``/v1/returned-cards``: old cards in custody (recorded by the request service), their destruction."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse

from services.common.db import DbSession, ReadSession
from services.common.pagination import Page, PageParams
from services.common.problems import problem_responses
from services.inventory.dependencies import Operator, Reader, Service
from services.inventory.reports.service import month_bounds
from services.inventory.returned_cards import repository, service
from services.inventory.returned_cards.schemas import DestroyIn, ReturnedCardIn, ReturnedCardOut
from services.inventory.states import ReturnedCardState

__all__ = ["router"]

router = APIRouter(prefix="/v1/returned-cards", tags=["returned cards"])

Serial = Annotated[str, Path(pattern=r"^[A-Z0-9]{4,40}$")]


@router.post(
    "",
    status_code=201,
    response_model=ReturnedCardOut,
    summary="A surrendered card into custody (the request service); the same serial again → 200 the same",
    responses=problem_responses(401, 403, 409, 422),
)
async def receive_returned_card(body: ReturnedCardIn, session: DbSession, principal: Service) -> JSONResponse:
    card, created = await service.receive(session, principal, body)
    return JSONResponse(card.model_dump(mode="json"), status_code=201 if created else 200)


@router.get("", response_model=Page[ReturnedCardOut], summary="Returned cards, newest first (filters)")
async def list_returned_cards(
    session: ReadSession,
    _: Reader,
    page: Annotated[PageParams, Depends()],
    state: ReturnedCardState | None = None,
    month: Annotated[
        str | None, Query(pattern=r"^\d{4}-\d{2}$", description="received or destroyed in this month (UTC)")
    ] = None,
) -> Page[ReturnedCardOut]:
    rows, total = await repository.list_cards(
        session,
        state=state.value if state else None,
        between=month_bounds(month) if month else None,
        limit=page.limit,
        offset=page.offset,
    )
    return Page[ReturnedCardOut](
        items=[ReturnedCardOut.model_validate(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/{serial}", response_model=ReturnedCardOut, responses=problem_responses(401, 403, 404))
async def get_returned_card(serial: Serial, session: ReadSession, _: Reader) -> ReturnedCardOut:
    return await service.read(session, serial)


@router.post(
    "/{serial}/destroy",
    response_model=ReturnedCardOut,
    summary="Record a returned card's destruction before a witness",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def destroy_returned_card(
    serial: Serial, body: DestroyIn, session: DbSession, principal: Operator
) -> ReturnedCardOut:
    return await service.destroy(session, principal, serial, body)
