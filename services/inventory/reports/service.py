"""The month's spoilage and its destruction minutes (berita acara pemusnahan) as an HTML document: the spoiled
blanks, then every old card handed back (returned cards) received or destroyed in the month."""

from __future__ import annotations

import datetime as dt
import html
import zoneinfo
from collections import Counter
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.problems import Unprocessable
from services.inventory.reports import repository
from services.inventory.reports.schemas import SpoilageReport, SpoiledBlank
from services.inventory.returned_cards import repository as returned_repository
from services.inventory.returned_cards.schemas import ReturnedCardOut

__all__ = ["destruction_minutes", "month_bounds", "returned_cards", "spoilage"]

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


# The minutes are the office's: its months and times are WIB (the default office_timezone of the settings).
OFFICE_TZ = zoneinfo.ZoneInfo("Asia/Jakarta")


def month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    """The month's first and next month's first instant in the office's time (WIB)."""
    try:
        start = dt.datetime.strptime(month, "%Y-%m").replace(tzinfo=OFFICE_TZ)
    except ValueError:
        raise Unprocessable.field("month", "a month as YYYY-MM") from None
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return start, end


def wib(moment: dt.datetime) -> str:
    """An instant as the office reads it."""
    return f"{moment.astimezone(OFFICE_TZ):%Y-%m-%d %H:%M} WIB"


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


async def returned_cards(session: AsyncSession, month: str) -> list[ReturnedCardOut]:
    """Every returned card received or destroyed in the month, in serial order."""
    start, end = month_bounds(month)
    return [ReturnedCardOut.model_validate(c) for c in await returned_repository.in_month(session, start, end)]


def _returned_section(month: str, cards: Sequence[ReturnedCardOut]) -> str:
    """Part B of the minutes: each old card received into custody or destroyed in the month, who and when."""
    e = html.escape
    start, end = month_bounds(month)

    def when(moment: dt.datetime | None) -> str:
        return wib(moment) if moment else ""

    destroyed = sum(1 for c in cards if c.destroyed_at and start <= c.destroyed_at < end)
    received = sum(1 for c in cards if start <= c.received_at < end)
    kept = sum(1 for c in cards if c.destroyed_at is None)
    rows = "\n".join(
        f"<tr><td>{n}</td><td>{e(c.serial)}</td><td>{e(c.request_id)}</td><td>{e(c.received_by)}</td>"
        f"<td>{when(c.received_at)}</td><td>{when(c.destroyed_at)}</td><td>{e(c.witness or '')}</td>"
        f"<td>{'Dimusnahkan' if c.destroyed_at else 'Disimpan'}</td></tr>"
        for n, c in enumerate(cards, start=1)
    )
    return f"""<h2>B. KTP-el lama yang dikembalikan (diganti, rusak, hilang lalu ditemukan)</h2>
<p>Diterima bulan ini: <strong>{received}</strong> keping; dimusnahkan bulan ini: <strong>{destroyed}</strong>
keping; masih disimpan menunggu pemusnahan: <strong>{kept}</strong> keping.</p>
<table><thead><tr><th>No</th><th>Nomor seri KTP-el</th><th>Permohonan</th><th>Diterima oleh</th>
<th>Diterima</th><th>Dimusnahkan</th><th>Saksi pemusnahan</th><th>Status</th></tr></thead><tbody>
{rows}
</tbody></table>
"""


def destruction_minutes(
    report: SpoilageReport,
    returned: Sequence[ReturnedCardOut] = (),
    *,
    office: str = "Dinas Kependudukan dan Pencatatan Sipil",
) -> str:
    """The berita acara pemusnahan: a printable HTML page listing every spoiled blank, its reason and witness,
    then every returned card received or destroyed in the month (who received it, when, the witness)."""
    e = html.escape
    rows = "\n".join(
        f"<tr><td>{n}</td><td>{e(i.serial)}</td><td>{e(i.tranche_reference or '')}</td>"
        f"<td>{e(REASON_LABELS.get(i.reason or '', i.reason or ''))}</td><td>{e(i.witness or '')}</td>"
        f"<td>{e(i.printer_id or '')}</td><td>{wib(i.at)}</td></tr>"
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
{_returned_section(report.month, returned)}
<table class="sign"><tr><td>Petugas,<br><br><br>(....................)</td>
<td>Saksi,<br><br><br>(....................)</td><td>Kepala Dinas,<br><br><br>(....................)</td></tr></table>
</body></html>
"""
