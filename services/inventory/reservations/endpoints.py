"""Reservation routes (role service): reserve, consume, spoil, release, hold — idempotent by job id.

The state-changing routes answer with the reservation serialised once, straight from the service's row
(``_answer``), instead of letting FastAPI validate the returned object against ``response_model`` again; the
declared ``response_model`` still documents the body.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from services.common.db import DbSession, ReadSession
from services.common.pagination import Page, PageParams
from services.common.problems import NotFound, problem_responses
from services.inventory.dependencies import InventorySettings, Reader, Service
from services.inventory.reservations import repository, service
from services.inventory.reservations.schemas import (
    ConsumeIn,
    HoldIn,
    ReleaseIn,
    ReservationOut,
    ReserveIn,
    SpoilIn,
)
from services.inventory.states import ReservationStatus

__all__ = ["router"]

router = APIRouter(prefix="/v1/reservations", tags=["reservations"])


def _answer(row: dict[str, Any], status_code: int = 200) -> Response:
    body = ReservationOut.model_validate(row).model_dump_json().encode()
    return Response(body, status_code=status_code, media_type="application/json")


@router.post(
    "",
    status_code=201,
    response_model=ReservationOut,
    summary="Reserve one blank for a job (same job id → 200 the same reservation)",
    responses={
        **problem_responses(401, 403, 409, 422),
        200: {"model": ReservationOut, "description": "The same reservation again"},
    },
)
async def reserve(body: ReserveIn, session: DbSession, settings: InventorySettings, principal: Service) -> Response:
    reservation, created = await service.reserve(session, settings, principal, body)
    return _answer(reservation, 201 if created else 200)


@router.post(
    "/{job_id}/consume",
    response_model=ReservationOut,
    summary="The job's blank became a card with this serial",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def consume(
    job_id: str, body: ConsumeIn, session: DbSession, settings: InventorySettings, principal: Service
) -> Response:
    return _answer(await service.consume(session, settings, principal, job_id, body))


@router.post(
    "/{job_id}/spoil",
    response_model=ReservationOut,
    summary="The job spoiled the blank with this serial (reason, witness)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def spoil(
    job_id: str, body: SpoilIn, session: DbSession, settings: InventorySettings, principal: Service
) -> Response:
    return _answer(await service.spoil(session, settings, principal, job_id, body))


@router.post(
    "/{job_id}/release",
    response_model=ReservationOut,
    summary="The job ended without using a blank",
    responses=problem_responses(401, 403, 404, 409),
)
async def release(job_id: str, session: DbSession, principal: Service, body: ReleaseIn | None = None) -> Response:
    return _answer(await service.release(session, principal, job_id))


@router.post(
    "/{job_id}/hold",
    response_model=ReservationOut,
    summary="Outcome unknown: the reservation no longer expires",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def hold(job_id: str, body: HoldIn, session: DbSession, principal: Service) -> Response:
    return _answer(await service.hold(session, principal, job_id, body))


@router.get("", response_model=Page[ReservationOut], summary="List reservations")
async def list_reservations(
    session: ReadSession,
    _: Reader,
    page: Annotated[PageParams, Depends()],
    status: ReservationStatus | None = None,
) -> Page[ReservationOut]:
    rows, total = await repository.list_reservations(session, status, limit=page.limit, offset=page.offset)
    return Page[ReservationOut](
        items=[ReservationOut.model_validate(r) for r in rows], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/{job_id}", response_model=ReservationOut, summary="One job's reservation")
async def get_reservation(job_id: str, session: ReadSession, _: Reader) -> ReservationOut:
    reservation = await repository.get(session, job_id)
    if reservation is None:
        raise NotFound(f"no reservation for job {job_id}", kind="reservation-unknown")
    return ReservationOut.model_validate(reservation)
