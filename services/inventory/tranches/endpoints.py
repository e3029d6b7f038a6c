"""Tranche routes: receive a delivery of blanks (operator), list and read them."""

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from services.common.db import DbSession, ReadSession
from services.common.pagination import Page, PageParams
from services.common.problems import NotFound, problem_responses
from services.inventory.dependencies import Operator, Reader
from services.inventory.tranches import repository, service
from services.inventory.tranches.schemas import TrancheIn, TrancheOut

__all__ = ["router"]

router = APIRouter(prefix="/v1/tranches", tags=["tranches"])


@router.post(
    "",
    status_code=201,
    response_model=TrancheOut,
    summary="Receive a tranche of blanks (same reference and body → 200 the tranche on record)",
    responses={
        **problem_responses(401, 403, 409, 422),
        200: {"model": TrancheOut, "description": "The same tranche again"},
    },
)
async def receive_tranche(body: TrancheIn, session: DbSession, principal: Operator, response: Response) -> TrancheOut:
    tranche, created = await service.receive(session, principal, body)
    if not created:
        response.status_code = 200
    return TrancheOut.model_validate(tranche)


@router.get("", response_model=Page[TrancheOut], summary="Tranches, newest first")
async def list_tranches(session: ReadSession, _: Reader, page: Annotated[PageParams, Depends()]) -> Page[TrancheOut]:
    rows, total = await repository.list_tranches(session, limit=page.limit, offset=page.offset)
    return Page[TrancheOut](
        items=[TrancheOut.model_validate(t) for t in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/{tranche_id}", response_model=TrancheOut, responses=problem_responses(404))
async def get_tranche(tranche_id: str, session: ReadSession, _: Reader) -> TrancheOut:
    tranche = await repository.get(session, tranche_id)
    if tranche is None:
        raise NotFound(f"no tranche {tranche_id}", kind="tranche-unknown")
    return TrancheOut.model_validate(tranche)
