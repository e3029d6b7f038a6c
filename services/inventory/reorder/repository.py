"""Queries of reorder proposals."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.pagination import paginate
from services.inventory.models import ReorderProposal
from services.inventory.states import OPEN_PROPOSAL_STATES, ProposalState

__all__ = ["get", "list_proposals", "open_proposal"]


async def get(session: AsyncSession, proposal_id: str, *, for_update: bool = False) -> ReorderProposal | None:
    query = select(ReorderProposal).where(ReorderProposal.id == proposal_id)
    if for_update:
        query = query.with_for_update()
    return await session.scalar(query)


async def open_proposal(session: AsyncSession) -> ReorderProposal | None:
    states = [s.value for s in OPEN_PROPOSAL_STATES]
    return await session.scalar(
        select(ReorderProposal).where(ReorderProposal.state.in_(states)).order_by(ReorderProposal.created_at).limit(1)
    )


async def list_proposals(
    session: AsyncSession, state: ProposalState | None, *, limit: int, offset: int
) -> tuple[Sequence[ReorderProposal], int]:
    query = select(ReorderProposal)
    if state is not None:
        query = query.where(ReorderProposal.state == state.value)
    return await paginate(session, query, ReorderProposal.created_at.desc(), limit=limit, offset=offset)
