"""Rules of mobile recording visits: the plan from the desa figures, confirming a visit, recording its outcome
(the desa's recorded figure and its kecamatan's coverage, in one transaction, audited) and the print requests
the unit brings back (a batch through the batches machinery, channel ``mobile_unit``, stamped with the visit)."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.problems import Conflict, FieldError, NotFound, Unprocessable
from services.request.batches import service as batches
from services.request.context import ServiceContext
from services.request.mobile import plan as planning
from services.request.mobile.figures import gap
from services.request.mobile.models import DesaFigure, MobileVisit, MobileVisitDesa
from services.request.mobile.schemas import (
    OutcomeIn,
    PlanDay,
    PlanDesa,
    PlanOut,
    VisitDesaOut,
    VisitIn,
    VisitOut,
    VisitStatus,
)
from services.request.models import Batch, CoverageFigure, PrintRequest
from services.request.print_requests.schemas import Channel

__all__ = ["confirm", "get_visit", "list_visits", "plan", "record_outcome", "upload_requests", "visit_out"]


def _rules(context: ServiceContext, per_day: int) -> planning.PlanRules:
    settings = context.settings
    return planning.PlanRules(
        office=(settings.office_latitude, settings.office_longitude),
        per_day=per_day,
        remote_km=settings.mobile_remote_km,
        neighbour_km=settings.mobile_neighbour_km,
    )


async def plan(
    session: AsyncSession, context: ServiceContext, *, days: int, per_day: int | None, start: dt.date | None
) -> PlanOut:
    """The next ``days`` working days' visits (from ``start``, else the working day after today): the rule is
    in services/request/mobile/plan.py. Desa with a confirmed visit still to record are left out."""
    rules = _rules(context, per_day or context.settings.mobile_per_day)
    on_visit = select(MobileVisitDesa.village_code).join(MobileVisit, MobileVisit.id == MobileVisitDesa.visit_id)
    on_visit = on_visit.where(MobileVisit.status == VisitStatus.PLANNED.value)
    query = select(DesaFigure).where(DesaFigure.village_code.not_in(on_visit)).order_by(DesaFigure.village_code)
    catalog = context.catalog
    candidates = []
    for figure in (await session.scalars(query)).all():
        village, kecamatan = catalog.villages.get(figure.village_code), catalog.kecamatan.get(figure.kecamatan_code)
        if village is None or kecamatan is None:
            continue  # a desa the region data no longer has (figures imported under another file)
        candidates.append(
            planning.Candidate(
                code=figure.village_code, name=village.name, kecamatan_code=kecamatan.code,
                kecamatan=kecamatan.name, gap=gap(figure), lat=figure.lat, lon=figure.lon,
            )
        )  # fmt: skip
    first = start or context.today() + dt.timedelta(days=1)
    planned = planning.make_plan(candidates, rules, planning.working_days(context.calendar, first, days))
    left = planning.leftover(candidates, planned)

    def desa(c: planning.Candidate) -> PlanDesa:
        distance = planning.from_office(c, rules)
        return PlanDesa(
            code=c.code, name=c.name, kecamatan_code=c.kecamatan_code, kecamatan=c.kecamatan, gap=c.gap,
            distance_km=None if distance is None else round(distance, 1),
        )  # fmt: skip

    return PlanOut(
        per_day=rules.per_day,
        office_lat=rules.office[0],
        office_lon=rules.office[1],
        days=[
            PlanDay(
                date=day.date,
                desa=[desa(c) for c in day.desa],
                expected_residents=day.expected,
                over_capacity=day.expected > rules.per_day,
            )
            for day in planned
        ],
        unplanned_desa=len(left),
        unplanned_residents=sum(c.gap for c in left),
    )


# --- visits ---------------------------------------------------------------------------------------------------


async def _members(session: AsyncSession, visit_ids: Sequence[str]) -> dict[str, list[MobileVisitDesa]]:
    found: dict[str, list[MobileVisitDesa]] = {v: [] for v in visit_ids}
    if visit_ids:
        query = select(MobileVisitDesa).where(MobileVisitDesa.visit_id.in_(visit_ids))
        for member in await session.scalars(query.order_by(MobileVisitDesa.visit_id, MobileVisitDesa.position)):
            found[member.visit_id].append(member)
    return found


async def _request_counts(session: AsyncSession, visit_ids: Sequence[str]) -> dict[str, int]:
    if not visit_ids:
        return {}
    query = (
        select(PrintRequest.mobile_visit_id, func.count())
        .where(PrintRequest.mobile_visit_id.in_(visit_ids))
        .group_by(PrintRequest.mobile_visit_id)
    )
    return {str(v): int(n) for v, n in (await session.execute(query)).all()}


def visit_out(context: ServiceContext, visit: MobileVisit, members: list[MobileVisitDesa], requests: int) -> VisitOut:
    catalog = context.catalog
    desa = []
    for m in members:
        village, kecamatan = catalog.villages.get(m.village_code), catalog.kecamatan.get(m.kecamatan_code)
        desa.append(
            VisitDesaOut(
                code=m.village_code, name=village.name if village else "", kecamatan_code=m.kecamatan_code,
                kecamatan=kecamatan.name if kecamatan else "", expected=m.expected, recorded=m.recorded,
            )
        )  # fmt: skip
    recorded = [m.recorded for m in members if m.recorded is not None]
    return VisitOut(
        id=visit.id, date=visit.visit_date, status=VisitStatus(visit.status), team=visit.team, notes=visit.notes,
        desa=desa, expected_residents=sum(m.expected for m in members),
        recorded_residents=sum(recorded) if visit.status == VisitStatus.RECORDED.value else None,
        requests=requests, created_by=visit.created_by, created_at=visit.created_at,
        outcome_by=visit.outcome_by, outcome_at=visit.outcome_at,
    )  # fmt: skip


async def _visit(session: AsyncSession, visit_id: str, *, for_update: bool = False) -> MobileVisit:
    visit: MobileVisit | None = await session.get(MobileVisit, visit_id, with_for_update=for_update or None)
    if visit is None:
        raise NotFound(f"no mobile visit {visit_id}", kind="mobile-visit-not-found")
    return visit


async def get_visit(session: AsyncSession, context: ServiceContext, visit_id: str) -> VisitOut:
    visit = await _visit(session, visit_id)
    members = await _members(session, [visit.id])
    counts = await _request_counts(session, [visit.id])
    return visit_out(context, visit, members[visit.id], counts.get(visit.id, 0))


async def list_visits(
    session: AsyncSession, context: ServiceContext, *, status: VisitStatus | None, limit: int, offset: int
) -> tuple[list[VisitOut], int]:
    """Newest date first."""
    query = select(MobileVisit)
    if status is not None:
        query = query.where(MobileVisit.status == status.value)
    total = int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)
    order = (MobileVisit.visit_date.desc(), MobileVisit.created_at.desc(), MobileVisit.id)
    visits = (await session.scalars(query.order_by(*order).limit(limit).offset(offset))).all()
    ids = [v.id for v in visits]
    members, counts = await _members(session, ids), await _request_counts(session, ids)
    return [visit_out(context, v, members[v.id], counts.get(v.id, 0)) for v in visits], total


async def confirm(session: AsyncSession, context: ServiceContext, principal: Principal, body: VisitIn) -> VisitOut:
    """A visit to the named desa on ``date``: each a desa of the regency with figures, named once."""
    catalog = context.catalog
    errors: list[FieldError] = []
    for i, code in enumerate(body.village_codes):
        if code not in catalog.villages:
            errors.append(
                FieldError(field=f"village_codes.{i}", reason=f"{code} is not a desa of {catalog.regency_name}")
            )
        elif body.village_codes.index(code) != i:
            errors.append(FieldError(field=f"village_codes.{i}", reason=f"{code} is named twice"))
    if errors:
        raise Unprocessable(f"{errors[0].field}: {errors[0].reason}", kind="validation", errors=errors)
    query = select(DesaFigure).where(DesaFigure.village_code.in_(body.village_codes))
    figures = {f.village_code: f for f in (await session.scalars(query)).all()}
    missing = [
        FieldError(field=f"village_codes.{i}", reason=f"{code} has no figures yet: import them (PUT /v1/desa-figures)")
        for i, code in enumerate(body.village_codes)
        if code not in figures
    ]
    if missing:
        raise Unprocessable(f"{missing[0].field}: {missing[0].reason}", kind="validation", errors=missing)
    visit = MobileVisit(
        visit_date=body.date, status=VisitStatus.PLANNED.value, team=body.team, notes=body.notes,
        created_by=principal.subject, created_at=context.clock(),
    )  # fmt: skip
    session.add(visit)
    await session.flush()
    members = [
        MobileVisitDesa(
            visit_id=visit.id, position=i, village_code=code, kecamatan_code=figures[code].kecamatan_code,
            expected=gap(figures[code]),
        )
        for i, code in enumerate(body.village_codes)
    ]  # fmt: skip
    session.add_all(members)
    await session.flush()
    after = {"date": body.date.isoformat(), "team": body.team, "desa": {m.village_code: m.expected for m in members}}
    context.auditor.record(session, principal, "mobile_visit.confirmed", "mobile_visit", visit.id, after=after)
    return visit_out(context, visit, members, 0)


async def record_outcome(
    session: AsyncSession, context: ServiceContext, principal: Principal, visit_id: str, body: OutcomeIn
) -> VisitOut:
    """The residents recorded in each desa of the visit: added to the desa's recorded figure and its kecamatan's
    coverage (``coverage_figures.recorded``). Sent again, the new counts replace the old: only the difference is
    added. One audit event for the visit, one per desa figure and one per kecamatan figure changed."""
    visit = await _visit(session, visit_id, for_update=True)
    if visit.visit_date > context.today():
        raise Conflict(f"the visit is on {visit.visit_date}: its outcome is recorded from that day on",
                       kind="mobile-visit-not-yet")  # fmt: skip
    members = {m.village_code: m for m in (await _members(session, [visit.id]))[visit.id]}
    errors: list[FieldError] = []
    for i, item in enumerate(body.desa):
        if item.village_code not in members:
            errors.append(
                FieldError(field=f"desa.{i}.village_code", reason=f"{item.village_code} is not on this visit")
            )
        elif [d.village_code for d in body.desa].index(item.village_code) != i:
            errors.append(FieldError(field=f"desa.{i}.village_code", reason=f"{item.village_code} is named twice"))
    if errors:
        raise Unprocessable(f"{errors[0].field}: {errors[0].reason}", kind="validation", errors=errors)

    deltas = {item.village_code: item.recorded - (members[item.village_code].recorded or 0) for item in body.desa}
    query = select(DesaFigure).where(DesaFigure.village_code.in_(list(deltas))).order_by(DesaFigure.village_code)
    figures = {f.village_code: f for f in (await session.scalars(query.with_for_update())).all()}
    now = context.clock()
    by_kecamatan: dict[str, int] = {}
    for code, delta in sorted(deltas.items()):
        figure = figures.get(code)
        if delta == 0 or figure is None:
            continue  # the figures were removed since the visit was confirmed: the coverage still counts it
        before = figure.recorded
        figure.recorded, figure.updated_at, figure.updated_by = max(before + delta, 0), now, principal.subject
        after = {"recorded": figure.recorded, "mobile_visit": visit.id}
        context.auditor.record(
            session, principal, "desa_figure.recorded", "desa", code, before={"recorded": before}, after=after
        )
    for code, delta in deltas.items():
        kecamatan = members[code].kecamatan_code
        by_kecamatan[kecamatan] = by_kecamatan.get(kecamatan, 0) + delta
    await session.flush()
    for kecamatan, delta in sorted(by_kecamatan.items()):
        if delta != 0:
            await _add_to_coverage(session, context, principal, kecamatan, delta, visit.id)

    outcome_before = {m.village_code: m.recorded for m in members.values()}
    for item in body.desa:
        members[item.village_code].recorded = item.recorded
    visit.status, visit.outcome_by, visit.outcome_at = VisitStatus.RECORDED.value, principal.subject, now
    await session.flush()
    context.auditor.record(session, principal, "mobile_visit.outcome", "mobile_visit", visit.id,
                           before={"recorded": outcome_before},
                           after={"recorded": {m.village_code: m.recorded for m in members.values()}})  # fmt: skip
    counts = await _request_counts(session, [visit.id])
    ordered = sorted(members.values(), key=lambda m: m.position)
    return visit_out(context, visit, ordered, counts.get(visit.id, 0))


async def _add_to_coverage(
    session: AsyncSession, context: ServiceContext, principal: Principal, kecamatan: str, delta: int, visit_id: str
) -> None:
    """The kecamatan's coverage figure recorded += ``delta``. A kecamatan without one yet starts from its desa
    figures added up (obliged and recorded, the outcome already in them)."""
    figure = await session.get(CoverageFigure, kecamatan, with_for_update=True)
    if figure is None:
        sums = select(func.coalesce(func.sum(DesaFigure.obliged), 0), func.coalesce(func.sum(DesaFigure.recorded), 0))
        obliged, recorded = (await session.execute(sums.where(DesaFigure.kecamatan_code == kecamatan))).one()
        figure = CoverageFigure(
            kecamatan_code=kecamatan, obliged=int(obliged), recorded=int(recorded), collected_before=0,
            updated_at=context.clock(), updated_by=principal.subject,
        )  # fmt: skip
        session.add(figure)
        before = None
    else:
        before = {"recorded": figure.recorded}
        figure.recorded = max(figure.recorded + delta, 0)
        figure.updated_at, figure.updated_by = context.clock(), principal.subject
    await session.flush()
    after = {"obliged": figure.obliged, "recorded": figure.recorded, "mobile_visit": visit_id}
    context.auditor.record(session, principal, "coverage.recorded", "kecamatan", kecamatan, before=before, after=after)


# --- the visit's print requests -----------------------------------------------------------------------------


async def upload_requests(
    session: AsyncSession, context: ServiceContext, principal: Principal, visit_id: str, upload: batches.Upload
) -> tuple[Batch, bool]:
    """The residents the unit recorded, as a batch (the same CSV or JSON as ``POST /v1/batches``): every row is
    channel ``mobile_unit`` and its request names the visit. The same file for the same visit again is the same
    batch; for another visit it is another batch (its NIKs then active already: refused row by row)."""
    visit = await _visit(session, visit_id)
    digest = hashlib.sha256(f"mobile-visit {visit.id}\n{upload.content_hash}".encode())
    upload.content_hash = digest.hexdigest()
    return await batches.process(
        session, context, principal, upload, channel=Channel.MOBILE_UNIT, stamp={"mobile_visit_id": visit.id}
    )
