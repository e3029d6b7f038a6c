"""Coverage: the office's figures (obliged, recorded, cards handed over before this system) next to what the
requests say was printed, activated and collected since, and what is waiting or overdue.

The cards handed over before the system (216,800 of Pesawaran's 247,111 recorded residents in January 2015) were
printed and activated too: they count in printed, activated and collected alike, so that collected ≤ activated ≤
printed always holds."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.problems import NotFound, Unprocessable
from services.request.context import ServiceContext
from services.request.coverage import repository
from services.request.coverage.schemas import CoverageIn, CoverageOut, CoverageRow
from services.request.models import CoverageFigure
from services.request.print_requests.states import RequestStatus as S
from services.request.queue import repository as queue_repository
from services.request.queue.policy import overdue_before
from services.request.sukets import repository as sukets

__all__ = ["coverage", "set_figures"]

PRINTED = (S.PRINTED, S.ACTIVATED, S.COLLECTED)
ACTIVATED = (S.ACTIVATED, S.COLLECTED)
COLLECTED = (S.COLLECTED,)
BACKLOG = (S.RECEIVED, S.QUEUED, S.PRINTING, S.NEEDS_REVIEW)


async def coverage(session: AsyncSession, context: ServiceContext) -> CoverageOut:
    figures = {f.kecamatan_code: f for f in await repository.figures(session)}
    counts = await repository.counts_by_kecamatan(session)
    overdue = await queue_repository.overdue_by_kecamatan(session, overdue_before(context.settings, context.clock()))
    with_suket = await sukets.valid_by_kecamatan(session, context.today())
    rows: list[CoverageRow] = []
    for code, kecamatan in context.catalog.kecamatan.items():
        by_status = counts.get(code, {})
        figure = figures.get(code)
        before = figure.collected_before if figure else 0
        rows.append(
            CoverageRow(
                code=code,
                name=kecamatan.name,
                obliged=figure.obliged if figure else 0,
                recorded=figure.recorded if figure else 0,
                collected_before=before,
                printed=before + sum(by_status.get(s.value, 0) for s in PRINTED),
                activated=before + sum(by_status.get(s.value, 0) for s in ACTIVATED),
                collected=before + sum(by_status.get(s.value, 0) for s in COLLECTED),
                backlog=sum(by_status.get(s.value, 0) for s in BACKLOG),
                overdue=overdue.get(code, 0),
                with_suket=with_suket.get(code, 0),
                updated_at=figure.updated_at if figure else None,
            )
        )
    catalog = context.catalog
    total = CoverageRow(
        code=catalog.regency_code,
        name=catalog.regency_name,
        obliged=sum(r.obliged for r in rows),
        recorded=sum(r.recorded for r in rows),
        collected_before=sum(r.collected_before for r in rows),
        printed=sum(r.printed for r in rows),
        activated=sum(r.activated for r in rows),
        collected=sum(r.collected for r in rows),
        backlog=sum(r.backlog for r in rows),
        overdue=sum(r.overdue for r in rows),
        with_suket=sum(r.with_suket for r in rows),
    )
    return CoverageOut(regency=total, kecamatan=rows)


async def set_figures(
    session: AsyncSession, context: ServiceContext, principal: Principal, code: str, body: CoverageIn
) -> None:
    if code not in context.catalog.kecamatan:
        raise NotFound(f"{code} is not a kecamatan of regency {context.catalog.regency_code}", kind="unknown-kecamatan")
    if body.collected_before > body.recorded:
        raise Unprocessable.field("collected_before", "more cards handed over than residents recorded")
    figure = await repository.get_figure(session, code)
    before = (
        None
        if figure is None
        else {"obliged": figure.obliged, "recorded": figure.recorded, "collected_before": figure.collected_before}
    )
    if figure is None:
        figure = CoverageFigure(kecamatan_code=code, updated_by=principal.subject)
        session.add(figure)
    figure.obliged, figure.recorded, figure.collected_before = body.obliged, body.recorded, body.collected_before
    figure.updated_at, figure.updated_by = context.clock(), principal.subject
    await session.flush()
    context.auditor.record(
        session, principal, "coverage.set", "kecamatan", code, before=before, after=body.model_dump()
    )
