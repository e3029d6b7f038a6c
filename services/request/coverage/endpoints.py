"""``/v1/coverage``: e-KTP coverage per kecamatan and for the regency; the office sets obliged, recorded and the
cards handed over before this system."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path

from services.common.auth import Authorize, Principal, Role
from services.common.db import DbSession, ReadSession
from services.common.problems import problem_responses
from services.request.context import Context
from services.request.coverage import service
from services.request.coverage.schemas import CoverageIn, CoverageOut

__all__ = ["router"]

router = APIRouter(prefix="/v1/coverage", tags=["coverage"])

reader = Authorize(Role.ADMIN, Role.OPERATOR, Role.CLERK)
office = Authorize(Role.ADMIN, Role.OPERATOR)


@router.get("", response_model=CoverageOut, summary="Coverage per kecamatan and for the regency")
async def get_coverage(session: ReadSession, context: Context, _: Annotated[Principal, Depends(reader)]) -> CoverageOut:
    return await service.coverage(session, context)


@router.put(
    "/{kecamatan_code}",
    response_model=CoverageOut,
    summary="Set a kecamatan's obliged, recorded and handed-over-before figures",
    responses=problem_responses(403, 404, 422),
)
async def put_coverage(
    kecamatan_code: Annotated[str, Path(pattern=r"^\d{2}\.\d{2}\.\d{2}$")],
    body: CoverageIn,
    session: DbSession,
    context: Context,
    principal: Annotated[Principal, Depends(office)],
) -> CoverageOut:
    await service.set_figures(session, context, principal, kecamatan_code, body)
    return await service.coverage(session, context)
