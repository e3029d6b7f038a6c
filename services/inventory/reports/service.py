"""The month's spoilage and its destruction minutes (berita acara pemusnahan) as an HTML document."""

from __future__ import annotations

import datetime as dt
import html
from collections import Counter

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.problems import Unprocessable
from services.inventory.reports import repository
from services.inventory.reports.schemas import SpoilageReport, SpoiledBlank

__all__ = ["destruction_minutes", "month_bounds", "spoilage"]

_STYLE = (
    "body{font-family:serif;margin:2em} table{border-collapse:collapse;width:100%} "
    "td,th{border:1px solid #000;padding:4px;font-size:11pt} "
    ".sign td{border:none;height:6em;vertical-align:bottom}"
)

REASON_LABELS = {
    "failed_print": "Gagal cetak",
    "failed_encode": "Gagal encode chip",
    "damaged": "Rusak",
    "data_change": "Perubahan data",
}


def month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    try:
        start = dt.datetime.strptime(month, "%Y-%m").replace(tzinfo=dt.UTC)
    except ValueError:
        raise Unprocessable.field("month", "a month as YYYY-MM") from None
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return start, end


async def spoilage(session: AsyncSession, month: str) -> SpoilageReport:
    start, end = month_bounds(month)
    items = [
        SpoiledBlank(
            serial=m.serial or "",
            tranche_reference=reference,
            reason=m.reason,
            witness=m.witness,
            printer_id=m.printer_id,
            job_id=m.job_id,
            recorded_by=m.actor,
            at=m.at,
        )
        for m, reference in await repository.spoiled_between(session, start, end)
    ]
    return SpoilageReport(
        month=month,
        total=len(items),
        by_reason=dict(Counter(i.reason or "unknown" for i in items)),
        by_printer=dict(Counter(i.printer_id or "none" for i in items)),
        items=items,
    )


def destruction_minutes(report: SpoilageReport, *, office: str = "Dinas Kependudukan dan Pencatatan Sipil") -> str:
    """The berita acara pemusnahan: a printable HTML page listing every spoiled blank, its reason and witness."""
    e = html.escape
    rows = "\n".join(
        f"<tr><td>{n}</td><td>{e(i.serial)}</td><td>{e(i.tranche_reference or '')}</td>"
        f"<td>{e(REASON_LABELS.get(i.reason or '', i.reason or ''))}</td><td>{e(i.witness or '')}</td>"
        f"<td>{e(i.printer_id or '')}</td><td>{i.at:%Y-%m-%d %H:%M} UTC</td></tr>"
        for n, i in enumerate(report.items, start=1)
    )
    summary = ", ".join(f"{e(REASON_LABELS.get(k, k))}: {v}" for k, v in sorted(report.by_reason.items())) or "-"
    return f"""<!doctype html>
<html lang="id"><head><meta charset="utf-8">
<title>Berita Acara Pemusnahan Blangko KTP-el {e(report.month)}</title>
<style>{_STYLE}</style>
</head><body>
<h1>Berita Acara Pemusnahan Blangko KTP-el Rusak</h1>
<p>{e(office)} — periode {e(report.month)}</p>
<p>Pada hari ini telah dilakukan pemusnahan blangko KTP-el rusak sebanyak <strong>{report.total}</strong> keping
dengan rincian: {summary}. Daftar nomor seri blangko:</p>
<table><thead><tr><th>No</th><th>Nomor seri</th><th>Tranche</th><th>Alasan</th><th>Saksi</th><th>Printer</th>
<th>Waktu</th></tr></thead><tbody>
{rows}
</tbody></table>
<table class="sign"><tr><td>Petugas,<br><br><br>(....................)</td>
<td>Saksi,<br><br><br>(....................)</td><td>Kepala Dinas,<br><br><br>(....................)</td></tr></table>
</body></html>
"""
