"""Report routes: the month's spoilage (JSON) and the destruction minutes (a downloadable HTML document)."""

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from services.common.db import ReadSession
from services.common.problems import problem_responses
from services.inventory.dependencies import Reader
from services.inventory.reports import service
from services.inventory.reports.schemas import SpoilageReport

__all__ = ["router"]

router = APIRouter(prefix="/v1/reports", tags=["reports"])

Month = Annotated[str, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM (UTC)")]


@router.get("/spoilage", response_model=SpoilageReport, responses=problem_responses(401, 403, 422))
async def spoilage_report(month: Month, session: ReadSession, _: Reader) -> SpoilageReport:
    return await service.spoilage(session, month)


@router.get(
    "/spoilage/minutes",
    response_class=HTMLResponse,
    summary="Berita acara pemusnahan: the month's spoiled blanks with reasons and witnesses, and the old cards "
    "returned or destroyed (who received them, when, the witness), to print and sign",
    responses=problem_responses(401, 403, 422),
)
async def destruction_minutes(month: Month, session: ReadSession, _: Reader) -> HTMLResponse:
    report = await service.spoilage(session, month)
    returned = await service.returned_cards(session, month)
    filename = f"berita-acara-pemusnahan-{month}.html"
    return HTMLResponse(
        service.destruction_minutes(report, returned),
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
