"""Ledger routes: balances, the invariant, a serial's custody, movements, spoilage and adjustments."""

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends

from services.common.db import DbSession, ReadSession
from services.common.pagination import Page, PageParams
from services.common.problems import problem_responses
from services.inventory.dependencies import Admin, InventorySettings, Operator, Reader
from services.inventory.ledger import repository, service
from services.inventory.ledger.schemas import (
    AdjustmentIn,
    BlankOut,
    Custody,
    Invariant,
    MovementOut,
    SpoilageIn,
    Stock,
)
from services.inventory.states import MovementKind

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["ledger"])


def _utc(moment: dt.datetime | None) -> dt.datetime | None:
    """A time without a zone is read as UTC."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=dt.UTC)


@router.get("/stock", response_model=Stock, summary="Balances office-wide and per tranche, and the urgent reserve")
async def get_stock(session: ReadSession, settings: InventorySettings, _: Reader) -> Stock:
    return await service.stock(session, settings)


@router.get("/stock/invariant", response_model=Invariant, summary="received = available + reserved + consumed + …")
async def get_invariant(session: ReadSession, _: Reader) -> Invariant:
    return await service.invariant(session)


@router.get(
    "/serials/{serial}",
    response_model=Custody,
    summary="A blank and its chain of custody",
    responses=problem_responses(401, 403, 404),
)
async def get_serial(serial: str, session: ReadSession, _: Reader) -> Custody:
    return await service.custody(session, serial)


@router.get("/movements", response_model=Page[MovementOut], summary="The ledger's movements, newest first")
async def list_movements(
    session: ReadSession,
    _: Reader,
    page: Annotated[PageParams, Depends()],
    kind: MovementKind | None = None,
    serial: str | None = None,
    job_id: str | None = None,
    tranche_id: str | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
) -> Page[MovementOut]:
    filters = repository.MovementFilters(
        kind=kind, serial=serial, job_id=job_id, tranche_id=tranche_id, since=_utc(since), until=_utc(until)
    )
    rows, total = await repository.list_movements(session, filters, limit=page.limit, offset=page.offset)
    return Page[MovementOut](
        items=[MovementOut.model_validate(m) for m in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.post(
    "/spoilage",
    status_code=201,
    response_model=BlankOut,
    summary="Record a blank spoiled outside a reservation (operator)",
    responses=problem_responses(401, 403, 409, 422),
)
async def record_spoilage(
    body: SpoilageIn, session: DbSession, settings: InventorySettings, principal: Operator
) -> BlankOut:
    return BlankOut.model_validate(await service.record_spoilage(session, settings, principal, body))


@router.post(
    "/adjustments",
    status_code=201,
    response_model=BlankOut,
    summary="Correct the ledger: write a blank off or restore it (admin, with a reason)",
    responses=problem_responses(401, 403, 409, 422),
)
async def adjust(body: AdjustmentIn, session: DbSession, settings: InventorySettings, principal: Admin) -> BlankOut:
    return BlankOut.model_validate(await service.adjust(session, settings, principal, body))
