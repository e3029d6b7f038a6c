"""The one factory of test data, for tests and bench: NIKs built like the real ones, request bodies, batch rows
and CSV, real images. (Demo residents with names and photos for ``ektp up --demo`` are ``services/ops/demo.py``.)

A NIK is six digits of region (province, regency, kecamatan: 18 09 01 for Gedong Tataan), the birth date as
DDMMYY with 40 added to the day for women, and a four-digit serial. ``make_nik`` builds one and checks it with
python-stdnum's ``stdnum.id.nik`` (format, length, birth date, registration place).
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
from typing import Any

from PIL import Image
from stdnum.id import nik as stdnum_nik

from services.ops.demo import nik_for
from services.request.regions.service import load_catalog

CATALOG = load_catalog("18.09")
KECAMATAN = list(CATALOG.kecamatan)  # 18.09.01 … 18.09.11


def image(kind: str, size: tuple[int, int], colour: tuple[int, int, int] = (200, 180, 160)) -> str:
    """A real JPEG or PNG of one colour, base64 as a request carries it."""
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format=kind)
    return base64.b64encode(buffer.getvalue()).decode()


PHOTO = image("JPEG", (8, 10))
SIGNATURE = image("PNG", (12, 4), (0, 0, 0))
# A passport-sized photo and signature of a few kB, as the front desk's camera gives (benchmarks).
PORTRAIT = image("JPEG", (120, 160), (180, 160, 150))
SIGNATURE_SCAN = image("PNG", (160, 60), (180, 160, 150))


def make_nik(
    kecamatan: str = "18.09.01", birth: dt.date = dt.date(1990, 5, 17), sex: str = "M", serial: int = 1
) -> str:
    nik = nik_for(kecamatan, birth, sex, serial)
    assert stdnum_nik.is_valid(nik), nik
    return nik


def request_body(
    serial: int = 1,
    *,
    kecamatan: str = "18.09.01",
    sex: str = "M",
    birth: dt.date = dt.date(1990, 5, 17),
    reason: str = "first_card",
    channel: str = "walk_in",
    **overrides: Any,
) -> dict[str, Any]:
    """A valid ``POST /v1/requests`` body; ``serial`` makes the NIK unique."""
    body: dict[str, Any] = {
        "nik": make_nik(kecamatan, birth, sex, serial),
        "name": "SITI RAHMAWATI" if sex == "F" else "BUDI SANTOSO",
        "birth_place": "PESAWARAN",
        "birth_date": birth.isoformat(),
        "sex": sex,
        "blood_type": "O",
        "address": "JL. RAYA GEDONG TATAAN NO. 5",
        "rt": "001",
        "rw": "002",
        "village_code": CATALOG.kecamatan[kecamatan].villages[0],
        "kecamatan_code": kecamatan,
        "religion": "ISLAM",
        "marital_status": "KAWIN",
        "occupation": "PETANI/PEKEBUN",
        "citizenship": "WNI",
        "valid_until": "SEUMUR HIDUP",
        "photo": PHOTO,
        "signature": SIGNATURE,
        "reason": reason,
        "channel": channel,
        "old_ktp_seen": True,
        "kk_copy_seen": True,
    }
    if reason == "other":
        body["reason_note"] = "pension office deadline"
    body.update(overrides)
    return body


def batch_row(serial: int, **overrides: Any) -> dict[str, Any]:
    """A batch row: a request body without the channel (a batch is kecamatan_batch)."""
    row = request_body(serial, reason="status_change", channel="kecamatan_batch", **overrides)
    del row["channel"]
    return row


def resident(number: int, *, photo: str = PORTRAIT, signature: str = SIGNATURE_SCAN) -> dict[str, Any]:
    """A valid walk-in body unique by ``number`` (0 … 11 × 7000 × 9999), spread over the eleven kecamatan, birth
    dates and both sexes: for loads of thousands of distinct residents."""
    kecamatan = KECAMATAN[number % len(KECAMATAN)]
    rest = number // len(KECAMATAN)
    born = dt.date(1970, 1, 1) + dt.timedelta(days=rest % 7000)
    sex = "F" if number % 2 else "M"
    return request_body(rest // 7000 + 1, kecamatan=kecamatan, sex=sex, birth=born, photo=photo, signature=signature)


def to_csv(rows: list[dict[str, Any]]) -> bytes:
    columns = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("true" if v is True else "false" if v is False else v) for k, v in row.items()})
    return buffer.getvalue().encode()
