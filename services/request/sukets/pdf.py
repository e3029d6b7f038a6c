"""The Suket as an A4 PDF (reportlab): the office's header, the title and number, the resident's data as the card
shows it with the photo, the dates in the office's time (WIB), and a QR code (segno) holding the public
verification URL. ``render`` is CPU work: callers run it off the event loop (``asyncio.to_thread``)."""

from __future__ import annotations

import datetime as dt
import io
import logging
from dataclasses import dataclass

import segno
from PIL import Image, UnidentifiedImageError
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfgen import canvas

from services.request.print_requests.schemas import CardData
from services.request.sukets.models import Suket

__all__ = ["SuketDocument", "document", "render"]

log = logging.getLogger(__name__)

MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
          "November", "Desember")  # fmt: skip
SEX = {"M": "LAKI-LAKI", "F": "PEREMPUAN"}
PHOTO_PIXELS = (472, 709)  # 4 × 6 cm at 300 dpi: a bigger photo is scaled down before it goes in
MM = 72 / 25.4  # points in a millimetre
WIDTH: float = A4[0]
HEIGHT: float = A4[1]
LEFT, RIGHT = 25 * MM, WIDTH - 25 * MM


@dataclass(frozen=True, slots=True)
class SuketDocument:
    number: str
    regency: str  # "Kabupaten Pesawaran"
    fields: list[tuple[str, str]]  # label, value: as on the card
    photo: bytes | None  # None: purged, or never readable
    issued_at: dt.datetime  # in the office's time zone
    valid_until: dt.date
    verification_url: str
    issued_by: str


def tanggal(day: dt.date) -> str:
    """``5 November 2026``."""
    return f"{day.day} {MONTHS[day.month - 1]} {day.year}"


def document(
    suket: Suket, card: CardData, photo: bytes | None, *, timezone: dt.tzinfo, url: str, regency: str
) -> SuketDocument:
    rt, rw = card.rt.zfill(3), card.rw.zfill(3)
    fields = [
        ("NIK", card.nik),
        ("Nama", card.name.upper()),
        ("Tempat/Tgl Lahir", f"{card.birth_place.upper()}, {card.birth_date:%d-%m-%Y}"),
        ("Jenis Kelamin", SEX.get(card.sex.value, card.sex.value)),
        ("Alamat", card.address.upper()),
        ("RT/RW", f"{rt}/{rw}"),
        ("Kel/Desa", card.village.upper()),
        ("Kecamatan", card.kecamatan.upper()),
        ("Agama", card.religion.upper()),
        ("Status Perkawinan", card.marital_status.upper()),
        ("Pekerjaan", card.occupation.upper()),
        ("Kewarganegaraan", card.citizenship.upper()),
    ]
    return SuketDocument(
        number=suket.number,
        regency=regency,
        fields=fields,
        photo=photo or None,
        issued_at=suket.issued_at.astimezone(timezone),
        valid_until=suket.valid_until,
        verification_url=url,
        issued_by=suket.issued_by,
    )


def _photo(data: bytes | None) -> ImageReader | None:
    if not data:
        return None
    try:
        with Image.open(io.BytesIO(data)) as source:
            source.thumbnail(PHOTO_PIXELS)
            return ImageReader(source.convert("RGB"))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        log.warning("the Suket's photo does not open: printed without it")
        return None


def _qr(url: str) -> ImageReader:
    out = io.BytesIO()
    segno.make(url, error="m", micro=False).save(out, kind="png", scale=8, border=4)
    out.seek(0)
    return ImageReader(out)


def _paragraph(pdf: canvas.Canvas, text: str, y: float, *, size: float = 11, leading: float = 15) -> float:
    for line in simpleSplit(text, "Helvetica", size, RIGHT - LEFT):
        pdf.setFont("Helvetica", size)
        pdf.drawString(LEFT, y, line)
        y -= leading
    return y


def _header(pdf: canvas.Canvas, doc: SuketDocument) -> float:
    y = HEIGHT - 25 * MM
    pdf.setFont("Helvetica-Bold", 14)
    pdf.drawCentredString(WIDTH / 2, y, f"PEMERINTAH {doc.regency.upper()}")
    pdf.drawCentredString(WIDTH / 2, y - 18, "DINAS KEPENDUDUKAN DAN PENCATATAN SIPIL")
    pdf.setLineWidth(1.5)
    pdf.line(LEFT, y - 28, RIGHT, y - 28)
    pdf.setLineWidth(0.5)
    pdf.line(LEFT, y - 31, RIGHT, y - 31)
    y -= 60
    title = "SURAT KETERANGAN PENGGANTI KTP-EL"
    pdf.setFont("Helvetica-Bold", 13)
    pdf.drawCentredString(WIDTH / 2, y, title)
    half = pdf.stringWidth(title, "Helvetica-Bold", 13) / 2
    pdf.line(WIDTH / 2 - half, y - 2, WIDTH / 2 + half, y - 2)
    pdf.setFont("Helvetica", 11)
    pdf.drawCentredString(WIDTH / 2, y - 16, f"Nomor: {doc.number}")
    return y - 45


def _fields(pdf: canvas.Canvas, doc: SuketDocument, y: float) -> float:
    photo_w, photo_h = 30 * MM, 45 * MM
    photo_x, photo_top = RIGHT - photo_w, y
    value_width = photo_x - 10 - (LEFT + 122)
    for label, value in doc.fields:
        pdf.setFont("Helvetica", 10.5)
        pdf.drawString(LEFT, y, label)
        pdf.drawString(LEFT + 112, y, ":")
        lines = simpleSplit(value, "Helvetica-Bold", 10.5, value_width) or [""]
        pdf.setFont("Helvetica-Bold", 10.5)
        for line in lines:
            pdf.drawString(LEFT + 122, y, line)
            y -= 15
    photo = _photo(doc.photo)
    pdf.rect(photo_x, photo_top - photo_h + 10, photo_w, photo_h)
    if photo is not None:
        pdf.drawImage(photo, photo_x + 1, photo_top - photo_h + 11, photo_w - 2, photo_h - 2, preserveAspectRatio=True)
    else:
        pdf.setFont("Helvetica", 8)
        pdf.drawCentredString(photo_x + photo_w / 2, photo_top - photo_h / 2, "PAS FOTO")
    return min(y, photo_top - photo_h) - 10


def render(doc: SuketDocument) -> bytes:
    """The Suket's PDF bytes."""
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4, pageCompression=1)
    pdf.setTitle(f"Surat Keterangan Pengganti KTP-el {doc.number}")
    pdf.setAuthor(f"Dinas Kependudukan dan Pencatatan Sipil {doc.regency}")
    y = _header(pdf, doc)
    regency = doc.regency.upper()
    y = _paragraph(pdf, f"Kepala Dinas Kependudukan dan Pencatatan Sipil {doc.regency} menerangkan bahwa:", y)
    y = _fields(pdf, doc, y - 6)
    until = tanggal(doc.valid_until)
    y = _paragraph(
        pdf,
        f"adalah benar penduduk {regency} yang telah melakukan perekaman KTP-el dan KTP-el-nya sedang dalam proses "
        f"pencetakan. Surat keterangan ini berlaku sebagai pengganti KTP-el sampai dengan tanggal {until}, atau "
        "sampai KTP-el diterima oleh yang bersangkutan, mana yang lebih dahulu.",
        y,
    )
    issued = doc.issued_at
    zone = issued.tzname() or ""  # WIB
    y = _paragraph(pdf, f"Diterbitkan: {tanggal(issued.date())} pukul {issued:%H.%M} {zone}".strip(), y - 6)
    y = _paragraph(pdf, f"Berlaku sampai dengan: {until}", y)
    y = _paragraph(pdf, "Demikian surat keterangan ini dibuat untuk dipergunakan sebagaimana mestinya.", y - 6)

    size, top = 38 * MM, y - 10
    pdf.drawImage(_qr(doc.verification_url), LEFT, top - size, size, size)
    pdf.setFont("Helvetica", 8)
    pdf.drawString(LEFT, top - size - 10, "Periksa keaslian surat ini dengan memindai kode QR di atas, atau buka:")
    pdf.drawString(LEFT, top - size - 20, doc.verification_url)

    place = doc.regency.removeprefix("Kabupaten ").removeprefix("Kota ")
    x = RIGHT - 70 * MM
    pdf.setFont("Helvetica", 10.5)
    for offset, line in enumerate(
        (f"{place}, {tanggal(issued.date())}", "a.n. KEPALA DINAS KEPENDUDUKAN", "DAN PENCATATAN SIPIL")
    ):
        pdf.drawString(x, top - offset * 14, line)
    pdf.drawString(x, top - size + 4, f"Petugas: {doc.issued_by}")
    pdf.showPage()
    pdf.save()
    return out.getvalue()
