"""``ektp up --demo``: Pesawaran residents across its kecamatan, a few urgent cases and a kecamatan batch, so a
newcomer sees cards coming out. Every resident is made up; NIKs are well-formed and consistent with the birth
date and sex, as the request service demands. A NIK keeps the place where its holder was first registered: the
batch's address changes (pindah alamat) are movers whose NIKs come from elsewhere (Lampung Selatan before the 2007
split, Bandar Lampung, Jakarta, another kecamatan), the others were registered where they live.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import io
import random
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import httpx
from PIL import Image, ImageDraw

from services.common.auth import Role, issue_token

__all__ = ["Resident", "coverage_figures", "load_demo", "residents"]

# Given and second names by sex (Indonesians mostly have no family name: the second name is a given one too).
NAMES = {
    "M": (
        ["Ahmad", "Budi", "Rudi", "Agus", "Joko", "Hendra", "Wayan", "Andi", "Bambang"],
        ["Saputra", "Wijaya", "Pratama", "Kurniawan", "Hidayat", "Setiawan", "Santoso"],
    ),
    "F": (
        ["Siti", "Dewi", "Nur", "Sri", "Ayu", "Rina", "Putri", "Wulan", "Indah"],
        ["Lestari", "Handayani", "Sari", "Rahmawati", "Wahyuni", "Anggraini", "Purnamasari"],
    ),
}
PLACES = ["PESAWARAN", "BANDAR LAMPUNG", "METRO", "GEDONG TATAAN", "KEDONDONG", "PADANG CERMIN"]
RELIGIONS = ["ISLAM", "ISLAM", "ISLAM", "KRISTEN", "KATOLIK", "HINDU", "BUDDHA"]
OCCUPATIONS = ["PETANI/PEKEBUN", "WIRASWASTA", "PELAJAR/MAHASISWA", "MENGURUS RUMAH TANGGA", "NELAYAN/PERIKANAN"]
# Where movers were first registered (their NIK's place): Lampung Selatan, Bandar Lampung, Jakarta Pusat, Way Lima.
MOVED_FROM = ["18.01.01", "18.71.01", "31.71.03", "18.09.05"]


@dataclass(frozen=True)
class Village:
    code: str  # 18.09.01.2001
    name: str
    kecamatan_code: str  # 18.09.01


def villages(regency: str = "18.09") -> list[Village]:
    """The regency's villages from the reference data the request service ships."""
    data = resources.files("services.request.regions").joinpath("data", f"{regency}.csv").read_text()
    return [
        Village(row["code"], row["name"], row["parent_code"])
        for row in csv.DictReader(io.StringIO(data))
        if row["level"] == "desa"
    ]


def _image(seed: int, size: tuple[int, int], fmt: str) -> str:
    rng = random.Random(seed)
    image = Image.new("RGB", size, (rng.randrange(150, 255), rng.randrange(150, 255), 255))
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.ellipse((w * 0.25, h * 0.15, w * 0.75, h * 0.6), fill=(90, 60, 40))
    draw.rectangle((w * 0.15, h * 0.65, w * 0.85, h), fill=(40, 40, 90))
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return base64.b64encode(buffer.getvalue()).decode()


@dataclass(frozen=True)
class Resident:
    nik: str
    name: str
    birth_date: dt.date
    sex: str
    village: Village
    married: bool

    def card(self, rng: random.Random) -> dict[str, Any]:
        return {
            "nik": self.nik,
            "name": self.name.upper(),
            "birth_place": rng.choice(PLACES),
            "birth_date": self.birth_date.isoformat(),
            "sex": self.sex,
            "blood_type": rng.choice(["A", "B", "AB", "O", "-"]),
            "address": f"JL. {rng.choice(['MERDEKA', 'PAHLAWAN', 'SUDIRMAN', 'RAYA'])} NO. {rng.randrange(1, 200)}",
            "rt": f"{rng.randrange(1, 20):03d}",
            "rw": f"{rng.randrange(1, 10):03d}",
            "village_code": self.village.code,
            "kecamatan_code": self.village.kecamatan_code,
            "religion": rng.choice(RELIGIONS),
            "marital_status": "KAWIN" if self.married else "BELUM KAWIN",
            "occupation": rng.choice(OCCUPATIONS),
            "citizenship": "WNI",
            "valid_until": "SEUMUR HIDUP",
        }


def nik_for(kecamatan_code: str, birth: dt.date, sex: str, serial: int) -> str:
    """A NIK: region (PPRRSS), birth date DDMMYY with 40 added to the day for women, then a 4-digit serial."""
    region = kecamatan_code.replace(".", "")
    day = birth.day + (40 if sex == "F" else 0)
    return f"{region}{day:02d}{birth:%m%y}{serial:04d}"


def residents(
    count: int,
    *,
    seed: int = 2015,
    today: dt.date | None = None,
    kecamatan: str | None = None,
    first_serial: int = 1,
    moved_from: Sequence[str] = (),
) -> Iterator[Resident]:
    """``count`` distinct adult residents spread over the regency's kecamatan (or living in one of them);
    with ``moved_from``, movers whose NIKs were issued in one of those kecamatan codes."""
    rng = random.Random(seed)
    today = today or dt.date.today()
    places = [v for v in villages() if kecamatan in (None, v.kecamatan_code)]
    for serial in range(first_serial, first_serial + count):
        village = rng.choice(places)
        sex = rng.choice("MF")
        age_days = rng.randrange(17 * 366, 70 * 365)
        birth = today - dt.timedelta(days=age_days)
        yield Resident(
            nik=nik_for(rng.choice(moved_from) if moved_from else village.kecamatan_code, birth, sex, serial),
            name=f"{rng.choice(NAMES[sex][0])} {rng.choice(NAMES[sex][1])}",
            birth_date=birth,
            sex=sex,
            village=village,
            married=rng.random() < 0.6,
        )


# Pesawaran in January 2015 (Harian Pilar): residents obliged to hold a KTP, all recorded, and cards received.
OBLIGED_2015 = 247_111
COLLECTED_2015 = 216_800


def _shares(total: int, weights: dict[str, int]) -> dict[str, int]:
    """``total`` split in proportion to ``weights``, the remainders to the largest fractions: the parts sum to it."""
    whole = sum(weights.values())
    parts = {k: total * w // whole for k, w in weights.items()}
    left = total - sum(parts.values())
    for k in sorted(weights, key=lambda k: (total * weights[k]) % whole, reverse=True)[:left]:
        parts[k] += 1
    return parts


def coverage_figures() -> dict[str, dict[str, int]]:
    """Each kecamatan's ``PUT /v1/coverage`` body: the regency's 2015 figures shared by its number of desa (made
    up per kecamatan; the regency's totals are the reported ones)."""
    weights: dict[str, int] = {}
    for village in villages():
        weights[village.kecamatan_code] = weights.get(village.kecamatan_code, 0) + 1
    obliged, collected = _shares(OBLIGED_2015, weights), _shares(COLLECTED_2015, weights)
    return {
        code: {"obliged": obliged[code], "recorded": obliged[code], "collected_before": collected[code]}
        for code in weights
    }


def request_body(resident: Resident, rng: random.Random, *, channel: str, reason: str) -> dict[str, Any]:
    seed = zlib.crc32(resident.nik.encode())  # stable across processes, unlike hash()
    body: dict[str, Any] = {
        **resident.card(rng),
        "photo": _image(seed & 0xFFFF, (240, 320), "JPEG"),
        "signature": _image(seed & 0xFFF, (300, 100), "PNG"),
        "reason": reason,
        "channel": channel,
    }
    if channel == "walk_in":
        body |= {"old_ktp_seen": True, "kk_copy_seen": True}
    return body


def load_demo(
    urls: dict[str, str], private_pem: bytes, *, residents_count: int = 60, seed: int = 2015
) -> dict[str, int]:
    """Walk-ins (a few urgent), a partner's urgent request and a kecamatan batch, through the public APIs."""
    rng = random.Random(seed)
    operator = issue_token(private_pem, role=Role.OPERATOR, subject="demo-front-desk")
    partner = issue_token(private_pem, role=Role.PARTNER, subject="rsud-pesawaran")
    people = list(residents(residents_count, seed=seed))
    created = {"urgent": 0, "walk_in": 0, "batch_rows": 0}
    with httpx.Client(base_url=urls["request"], timeout=30) as client:
        for code, figures in coverage_figures().items():
            client.put(f"/v1/coverage/{code}", json=figures, headers={"Authorization": f"Bearer {operator}"})
        for i, resident in enumerate(people[: residents_count // 2]):
            urgent = i % 5 == 0
            token = partner if urgent and i % 10 == 0 else operator
            channel = "partner" if token is partner else "walk_in"
            reason = rng.choice(["health", "education"]) if urgent else "first_card"
            response = client.post(
                "/v1/requests",
                json=request_body(resident, rng, channel=channel, reason=reason),
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": f"demo-{resident.nik}"},
            )
            if response.status_code in (200, 201):
                created["urgent" if urgent else "walk_in"] += 1
        kecamatan = "18.09.01"
        batch = residents(
            residents_count // 2,
            seed=seed + 1,
            kecamatan=kecamatan,
            first_serial=residents_count + 1,
            moved_from=MOVED_FROM,
        )
        rows = [request_body(r, rng, channel="kecamatan_batch", reason="address_change") for r in batch]
        if rows:
            response = client.post(
                "/v1/batches",
                params={"filename": f"usulan-demo-{kecamatan}.json"},
                json={"rows": rows},
                headers={"Authorization": f"Bearer {operator}"},
            )
            if response.status_code in (200, 201, 202):
                created["batch_rows"] = len(rows)
    return created
