"""The rules a print request's card data must satisfy before it is stored (one list of field errors).

Structure first (pydantic, in schemas.py), then these: the NIK with python-stdnum, its place part a registered
province and regency, current or former (a NIK records where the person was *first* registered and never changes:
movers hold NIKs from anywhere, residents registered before Pesawaran was split from Lampung Selatan in 2007 hold
1801…, so it is never compared with the current address); birth date and sex as the NIK encodes them (day + 40
for women); the current address, kecamatan and village, inside the configured regency; age at least
``minimum_age`` unless married; the channel's documents; the images' type (JPEG/PNG by their bytes, opened by
Pillow), size in bytes and in pixels (from the header). Batches use the same rules row by row.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import io
from dataclasses import dataclass

from PIL import ImageFile
from PIL.JpegImagePlugin import JpegImageFile
from PIL.PngImagePlugin import PngImageFile
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.id import nik as stdnum_nik

from services.common.problems import FieldError
from services.request.config import IMAGE_MAX_PIXELS, IMAGE_MAX_SIDE, Settings
from services.request.print_requests.schemas import Channel, MaritalStatus, Reason, RequestIn, Sex
from services.request.regions.service import RegionCatalog

__all__ = ["CheckedRequest", "check_request", "decode_image", "nik_birth", "nik_problem"]

JPEG_MAGIC = b"\xff\xd8\xff"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
FEMALE_DAY_OFFSET = 40


@functools.lru_cache(maxsize=4096)
def _registered_place(prefix: str) -> bool:
    """python-stdnum's registration-place check reads only the first four digits: ask it once per prefix."""
    return bool(stdnum_nik.is_valid(prefix + "01" + "010190" + "0001"))


@functools.lru_cache(maxsize=65536)
def _date_part_ok(part: str) -> bool:
    """python-stdnum's birth-date check reads only the DDMMYY digits: ask it once per distinct date part."""
    try:
        stdnum_nik.get_birth_date("000000" + part + "0000")
    except StdnumError:
        return False
    return True


def nik_problem(nik: str) -> str | None:
    """Why ``nik`` is not a valid NIK by python-stdnum's rules (format, length, date, place), or None."""
    if len(nik) == 16 and nik.isascii() and nik.isdigit():
        # python-stdnum's compact() leaves 16 ASCII digits as they are: the same checks, without its per-char work.
        if not _date_part_ok(nik[6:12]):
            return "its date part is not a date"
        if not _registered_place(nik[:4]):
            return "its region is not a registered province and regency"
        return None
    try:
        number = stdnum_nik.compact(nik)
        if not number.isdigit() or len(number) != 16:
            return "16 digits are required"
        stdnum_nik.get_birth_date(number)
    except StdnumError:
        return "its date part is not a date"
    if not _registered_place(number[:4]):
        return "its region is not a registered province and regency"
    return None


@dataclass(frozen=True, slots=True)
class CheckedRequest:
    data: RequestIn
    photo: bytes
    signature: bytes


def nik_birth(nik: str) -> tuple[int, int, int, Sex]:
    """Day, month, two-digit year and sex encoded in a NIK's DDMMYY part."""
    day, month, year = int(nik[6:8]), int(nik[8:10]), int(nik[10:12])
    if day > FEMALE_DAY_OFFSET:
        return day - FEMALE_DAY_OFFSET, month, year, Sex.F
    return day, month, year, Sex.M


def _well_formed(raw: bytes, jpeg: bool) -> bool:
    """The container's frame without decoding: JPEG from SOI to EOI, PNG from its signature and IHDR to IEND."""
    if jpeg:
        return raw.rstrip(b"\x00").endswith(b"\xff\xd9") and len(raw) > 4
    return raw[12:16] == b"IHDR" and raw[-8:-4] == b"IEND"


def decode_image(
    field: str,
    text: str,
    max_bytes: int,
    *,
    max_side: int = IMAGE_MAX_SIDE,
    max_pixels: int = IMAGE_MAX_PIXELS,
    thorough: bool = True,
) -> tuple[bytes | None, FieldError | None]:
    """The image's bytes, or the reason they are not a JPEG/PNG within ``max_bytes`` and the pixel limits.

    The pixel size comes from the header: no pixel is decoded, however many the header claims. ``thorough`` also
    has Pillow verify the image (single requests); batches check the frame and the header only, which keeps
    41,000 rows within seconds.
    """
    if len(text) > (max_bytes * 4) // 3 + 8:
        return None, FieldError(field=field, reason=f"larger than {max_bytes} bytes")
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None, FieldError(field=field, reason="not valid base64")
    if len(raw) > max_bytes:
        return None, FieldError(field=field, reason=f"larger than {max_bytes} bytes")
    reader: type[ImageFile.ImageFile]
    if raw.startswith(JPEG_MAGIC):
        reader = JpegImageFile
    elif raw.startswith(PNG_MAGIC):
        reader = PngImageFile
    else:
        return None, FieldError(field=field, reason="not a JPEG or PNG image")
    if not _well_formed(raw, reader is JpegImageFile):
        return None, FieldError(field=field, reason="a truncated or damaged JPEG or PNG image")
    try:
        # The format's reader parses the header as Image.open does, without Pillow's decompression-bomb check (a
        # warning, an error past twice its 89 megapixels): ours is stricter, names the size and needs no filter.
        with reader(io.BytesIO(raw)) as image:
            width, height = image.size
            if thorough:
                image.verify()
    except (OSError, SyntaxError, ValueError):
        if thorough:
            return None, FieldError(field=field, reason="a damaged JPEG or PNG image")
        return raw, None  # a batch row goes by its frame: the gateway leaves out a picture it cannot read
    if width > max_side or height > max_side or width * height > max_pixels:
        limits = f"at most {max_side} pixels a side and {max_pixels / 1_000_000:g} million pixels"
        return None, FieldError(field=field, reason=f"{width}×{height} pixels is larger than allowed ({limits})")
    return raw, None


def _age(born: dt.date, today: dt.date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def check_request(
    data: RequestIn, *, catalog: RegionCatalog, settings: Settings, today: dt.date, thorough: bool = True
) -> tuple[CheckedRequest | None, list[FieldError]]:
    """Apply every rule; return the request with decoded images, or every field error found."""
    errors: list[FieldError] = []
    nik = data.nik
    problem = nik_problem(nik)
    if problem is not None:
        errors.append(FieldError(field="nik", reason=f"not a valid NIK: {problem}"))
    else:
        day, month, year, sex = nik_birth(nik)
        born = data.birth_date
        if (born.day, born.month, born.year % 100) != (day, month, year):
            errors.append(
                FieldError(field="birth_date", reason=f"does not match the NIK's date {day:02d}-{month:02d}-{year:02d}")
            )
        if data.sex != sex:
            errors.append(FieldError(field="sex", reason=f"does not match the NIK (which says {sex.value})"))

    if data.kecamatan_code not in catalog.kecamatan:
        errors.append(FieldError(field="kecamatan_code", reason=f"not a kecamatan of regency {catalog.regency_code}"))
    village = catalog.villages.get(data.village_code)
    if village is None:
        errors.append(FieldError(field="village_code", reason=f"not a desa of regency {catalog.regency_code}"))
    elif village.kecamatan_code != data.kecamatan_code:
        errors.append(FieldError(field="village_code", reason=f"a desa of kecamatan {village.kecamatan_code}"))

    if data.birth_date > today:
        errors.append(FieldError(field="birth_date", reason="in the future"))
    elif _age(data.birth_date, today) < settings.minimum_age and data.marital_status is MaritalStatus.SINGLE:
        errors.append(FieldError(field="birth_date", reason=f"younger than {settings.minimum_age} and not married"))

    if data.reason is Reason.OTHER and not (data.reason_note or "").strip():
        errors.append(FieldError(field="reason_note", reason="required when the reason is other"))
    if data.channel is Channel.WALK_IN:
        if not data.old_ktp_seen:
            errors.append(FieldError(field="old_ktp_seen", reason="a walk-in needs the old KTP seen"))
        if not data.kk_copy_seen:
            errors.append(FieldError(field="kk_copy_seen", reason="a walk-in needs the KK copy seen"))

    images: dict[str, bytes] = {}
    for field in ("photo", "signature"):
        image, error = decode_image(
            field,
            getattr(data, field),
            getattr(settings, f"{field}_max_bytes"),
            max_side=getattr(settings, f"{field}_max_side"),
            max_pixels=getattr(settings, f"{field}_max_pixels"),
            thorough=thorough,
        )
        if error:
            errors.append(error)
        elif image is not None:
            images[field] = image

    if errors or len(images) < 2:
        return None, errors
    return CheckedRequest(data=data, photo=images["photo"], signature=images["signature"]), []
