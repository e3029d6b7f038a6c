"""Desa figures: the office's import (CSV or JSON, all rows or none) and the list with each desa's gap and the
requests waiting there, counted live from the queue."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Principal
from services.common.problems import Conflict, FieldError, Unprocessable
from services.request.context import ServiceContext
from services.request.mobile.models import DesaFigure
from services.request.mobile.plan import distance_km
from services.request.mobile.schemas import DesaFigureIn, DesaFigureList, DesaFigureOut
from services.request.models import PrintRequest
from services.request.print_requests.states import RequestStatus

__all__ = ["COLUMNS", "import_figures", "list_figures", "parse", "waiting_by_village"]

COLUMNS = ("village_code", "obliged", "recorded", "lat", "lon")
REQUIRED = COLUMNS[:3]
MAX_ERRORS = 100  # listed in the 422; the file is refused whole anyway


class _BadLine(str):
    """A CSV line that is no row (its reason): reported as the row's error."""


def _rows_of_csv(body: bytes) -> Iterable[tuple[int, dict[str, Any] | _BadLine]]:
    try:
        text = body.decode("utf-8-sig")  # a spreadsheet's export may start with a BOM
    except UnicodeDecodeError:
        raise Unprocessable.field("file", "not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    unknown = [h for h in header if h not in COLUMNS]
    missing = [c for c in REQUIRED if c not in header]
    if unknown or missing or len(set(header)) != len(header):
        reason = f"the header is {','.join(REQUIRED)}[,lat,lon]"
        named = [*(f"{h[:40]}: unknown column" for h in unknown[:5]), *(f"{c}: missing" for c in missing)]
        raise Unprocessable(f"header: {reason}" + (f" ({'; '.join(named)})" if named else ""), kind="validation",
                            errors=[FieldError(row=0, field="header", reason=reason)])  # fmt: skip
    for number, line in enumerate(reader, start=1):
        if not any(cell.strip() for cell in line):
            continue
        if len(line) != len(header):
            yield number, _BadLine(f"{len(line)} values for {len(header)} columns")
            continue
        values = {h: cell.strip() for h, cell in zip(header, line, strict=True)}
        yield number, {k: v for k, v in values.items() if v != "" or k in REQUIRED}


def _rows_of_json(body: bytes) -> Iterable[tuple[int, Any]]:
    try:
        document = json.loads(body)
    except ValueError:
        raise Unprocessable.field("file", "not JSON") from None
    rows = document.get("rows") if isinstance(document, dict) else document
    if not isinstance(rows, list):
        raise Unprocessable.field("rows", 'a JSON list of rows (or {"rows": [...]}) is expected')
    return enumerate(rows, start=1)


def parse(body: bytes, *, csv_format: bool, context: ServiceContext) -> list[tuple[int, DesaFigureIn]]:
    """Every row, valid, or 422 naming each bad row and field (row 1 = the first data row)."""
    catalog = context.catalog
    limit = len(catalog.villages)
    errors: list[FieldError] = []
    parsed: list[tuple[int, DesaFigureIn]] = []
    seen: dict[str, int] = {}
    try:
        numbered = list(_rows_of_csv(body) if csv_format else _rows_of_json(body))
    except csv.Error as exc:
        raise Unprocessable.field("file", f"not a CSV file: {exc}") from None
    if len(numbered) > limit:
        reason = f"{len(numbered)} rows: more than the regency has desa ({limit})"
        raise Unprocessable(f"rows: {reason}", kind="validation", errors=[FieldError(field="rows", reason=reason)])
    for number, raw in numbered:
        if isinstance(raw, _BadLine):
            errors.append(FieldError(row=number, field="row", reason=str(raw)))
            continue
        try:
            row = DesaFigureIn.model_validate(raw)
        except ValidationError as exc:
            errors += [
                FieldError(row=number, field=".".join(str(p) for p in e["loc"]) or "row", reason=e["msg"])
                for e in exc.errors()
            ]
            continue
        village = catalog.villages.get(row.village_code)
        if village is None:
            reason = f"{row.village_code} is not a desa of {catalog.regency_name} ({catalog.regency_code})"
            errors.append(FieldError(row=number, field="village_code", reason=reason))
        elif row.village_code in seen:
            errors.append(
                FieldError(row=number, field="village_code", reason=f"already at row {seen[row.village_code]}")
            )
        elif (row.lat is None) != (row.lon is None):
            missing = "lon" if row.lon is None else "lat"
            errors.append(FieldError(row=number, field=missing, reason="lat and lon are given together or not at all"))
        else:
            seen[row.village_code] = number
            parsed.append((number, row))
    if errors:
        first = errors[0]
        raise Unprocessable(
            f"row {first.row}, {first.field}: {first.reason}" + (f" (and {len(errors) - 1} more)" if errors[1:] else "")
            + "; nothing was imported",
            kind="validation",
            errors=errors[:MAX_ERRORS],
        )  # fmt: skip
    if not parsed:
        raise Unprocessable.field("file", "no data rows")
    return parsed


async def import_figures(
    session: AsyncSession, context: ServiceContext, principal: Principal, rows: Sequence[tuple[int, DesaFigureIn]]
) -> int:
    """Store the rows (each desa's figures replaced; desa the file does not name keep theirs), one audit event per
    desa that changed. Called only with every row valid: all are written, in the caller's transaction."""
    codes = [row.village_code for _, row in rows]
    query = select(DesaFigure).where(DesaFigure.village_code.in_(codes)).order_by(DesaFigure.village_code)
    query = query.with_for_update()  # in code order: two imports lock their common desa in the same order
    existing = {f.village_code: f for f in (await session.scalars(query)).all()}
    now, changed = context.clock(), 0
    for _, row in rows:
        after = row.model_dump()
        figure = existing.get(row.village_code)
        before = None if figure is None else {k: getattr(figure, k) for k in after}
        if before == after:
            continue
        if figure is None:
            kecamatan = context.catalog.villages[row.village_code].kecamatan_code
            figure = DesaFigure(village_code=row.village_code, kecamatan_code=kecamatan)
            session.add(figure)
        figure.obliged, figure.recorded, figure.lat, figure.lon = row.obliged, row.recorded, row.lat, row.lon
        figure.updated_at, figure.updated_by = now, principal.subject
        context.auditor.record(
            session, principal, "desa_figure.set", "desa", row.village_code, before=before, after=after
        )
        changed += 1
    try:
        await session.flush()
    except IntegrityError:  # another import added one of these desa meanwhile (PostgreSQL)
        raise Conflict("another import of desa figures ran meanwhile; send it again", kind="figures-raced") from None
    return changed


async def waiting_by_village(session: AsyncSession, kecamatan_code: str | None = None) -> dict[str, int]:
    """``{village_code: requests queued}``, now."""
    query = select(PrintRequest.village_code, func.count()).where(PrintRequest.status == RequestStatus.QUEUED.value)
    if kecamatan_code is not None:
        query = query.where(PrintRequest.kecamatan_code == kecamatan_code)
    rows = await session.execute(query.group_by(PrintRequest.village_code))
    return {code: int(n) for code, n in rows.all()}


def gap(figure: DesaFigure) -> int:
    return max(figure.obliged - figure.recorded, 0)


async def list_figures(session: AsyncSession, context: ServiceContext, kecamatan_code: str | None) -> DesaFigureList:
    catalog = context.catalog
    if kecamatan_code is not None and kecamatan_code not in catalog.kecamatan:
        raise Unprocessable.field("kecamatan", f"{kecamatan_code} is not a kecamatan of {catalog.regency_name}")
    query = select(DesaFigure).order_by(DesaFigure.village_code)
    if kecamatan_code is not None:
        query = query.where(DesaFigure.kecamatan_code == kecamatan_code)
    figures = (await session.scalars(query)).all()
    waiting = await waiting_by_village(session, kecamatan_code)
    office = (context.settings.office_latitude, context.settings.office_longitude)
    items = []
    for f in figures:
        village, kecamatan = catalog.villages.get(f.village_code), catalog.kecamatan.get(f.kecamatan_code)
        point = None if f.lat is None or f.lon is None else (f.lat, f.lon)
        items.append(
            DesaFigureOut(
                village_code=f.village_code, name=village.name if village else "",
                kecamatan_code=f.kecamatan_code, kecamatan=kecamatan.name if kecamatan else "",
                obliged=f.obliged, recorded=f.recorded, gap=gap(f), waiting=waiting.get(f.village_code, 0),
                lat=f.lat, lon=f.lon, distance_km=None if point is None else round(distance_km(office, point), 1),
                updated_at=f.updated_at, updated_by=f.updated_by,
            )
        )  # fmt: skip
    return DesaFigureList(
        items=items,
        total=len(items),
        obliged=sum(i.obliged for i in items),
        recorded=sum(i.recorded for i in items),
        gap=sum(i.gap for i in items),
        waiting=sum(i.waiting for i in items),
    )
