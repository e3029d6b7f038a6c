"""Reorder routes: proposals and their states, and the forecast."""

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from services.common.db import DbSession, ReadSession
from services.common.pagination import Page, PageParams
from services.common.problems import NotFound, problem_responses
from services.inventory.clients.requests import RequestServiceClient
from services.inventory.dependencies import Admin, InventorySettings, Operator, Reader
from services.inventory.reorder import repository, service
from services.inventory.reorder.schemas import Forecast, ProposalIn, ProposalOut, ProposalTransitionIn
from services.inventory.states import ProposalState

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["reorder"])


@router.get("/forecast", response_model=Forecast, summary="Days of cover, stock-out date, shortfall, suggested order")
async def get_forecast(request: Request, session: ReadSession, settings: InventorySettings, _: Reader) -> Forecast:
    client: RequestServiceClient = request.app.state.requests_client
    return await service.forecast(session, settings, await client.backlog())


@router.get("/proposals", response_model=Page[ProposalOut], summary="Reorder proposals, newest first")
async def list_proposals(
    session: ReadSession, _: Reader, page: Annotated[PageParams, Depends()], state: ProposalState | None = None
) -> Page[ProposalOut]:
    rows, total = await repository.list_proposals(session, state, limit=page.limit, offset=page.offset)
    return Page[ProposalOut](
        items=[ProposalOut.model_validate(p) for p in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.post("/proposals", status_code=201, response_model=ProposalOut, summary="Draft a proposal by hand")
async def draft_proposal(body: ProposalIn, session: DbSession, principal: Operator) -> ProposalOut:
    return ProposalOut.model_validate(await service.draft(session, principal, body))


@router.get("/proposals/{proposal_id}", response_model=ProposalOut, responses=problem_responses(404))
async def get_proposal(proposal_id: str, session: ReadSession, _: Reader) -> ProposalOut:
    proposal = await repository.get(session, proposal_id)
    if proposal is None:
        raise NotFound(f"no proposal {proposal_id}", kind="proposal-unknown")
    return ProposalOut.model_validate(proposal)


_RESPONSES = problem_responses(401, 403, 404, 409)


@router.post("/proposals/{proposal_id}/submit", response_model=ProposalOut, responses=_RESPONSES)
async def submit_proposal(
    proposal_id: str, session: DbSession, principal: Operator, body: ProposalTransitionIn | None = None
) -> ProposalOut:
    note = body.note if body else None
    return ProposalOut.model_validate(
        await service.transition(session, principal, proposal_id, ProposalState.SUBMITTED, note)
    )


@router.post("/proposals/{proposal_id}/approve", response_model=ProposalOut, responses=_RESPONSES)
async def approve_proposal(
    proposal_id: str, session: DbSession, principal: Admin, body: ProposalTransitionIn | None = None
) -> ProposalOut:
    note = body.note if body else None
    return ProposalOut.model_validate(
        await service.transition(session, principal, proposal_id, ProposalState.APPROVED, note)
    )


@router.post("/proposals/{proposal_id}/ship", response_model=ProposalOut, responses=_RESPONSES)
async def ship_proposal(
    proposal_id: str, session: DbSession, principal: Operator, body: ProposalTransitionIn | None = None
) -> ProposalOut:
    note = body.note if body else None
    return ProposalOut.model_validate(
        await service.transition(session, principal, proposal_id, ProposalState.SHIPPED, note)
    )


@router.post("/proposals/{proposal_id}/close", response_model=ProposalOut, responses=_RESPONSES)
async def close_proposal(
    proposal_id: str, session: DbSession, principal: Operator, body: ProposalTransitionIn | None = None
) -> ProposalOut:
    note = body.note if body else None
    return ProposalOut.model_validate(
        await service.transition(session, principal, proposal_id, ProposalState.CLOSED, note)
    )


@router.post("/proposals/{proposal_id}/cancel", response_model=ProposalOut, responses=_RESPONSES)
async def cancel_proposal(
    proposal_id: str, session: DbSession, principal: Admin, body: ProposalTransitionIn | None = None
) -> ProposalOut:
    note = body.note if body else None
    return ProposalOut.model_validate(
        await service.transition(session, principal, proposal_id, ProposalState.CANCELLED, note)
    )
