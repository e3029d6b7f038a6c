"""Draw an e-KTP front (85.6 × 54 mm at 300 dpi: 1016 × 648 px) and split it into ribbon panels.

The layout follows the real card: PROVINSI and KABUPATEN header, the NIK large, the fields in two columns
(label, colon, value), the photo at the right with the place and date of issue and the signature under it.
Colour (background, photo) goes to the y, m, c panels (256 levels, one byte a pixel); text goes to k
(2 levels, one bit a pixel, the ink is 1); o is the protective overlay over the whole card.

Fonts are Pillow's bundled FreeType font (``ImageFont.load_default(size=…)``): nothing is downloaded.
Everything here is blocking CPU work: call it through ``asyncio.to_thread``. Same card in, same bytes out.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import io
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError
from PIL.Image import DecompressionBombError, DecompressionBombWarning

from drivers import PANEL_HEIGHT, PANEL_WIDTH, PANELS

__all__ = ["CardPicture", "draw_card", "render_panels", "render_png"]

WIDTH, HEIGHT = PANEL_WIDTH, PANEL_HEIGHT  # 85.6 × 54 mm at 300 dpi
BACKGROUND = (204, 226, 240)  # the light blue of the e-KTP
HEADER_BAND = (170, 205, 230)
PHOTO_BOX = (770, 112, 980, 392)  # 3:4, right of the fields
SIGNATURE_BOX = (770, 500, 980, 590)
LABEL_X, COLON_X, VALUE_X, VALUE_RIGHT = 30, 262, 278, 752
FIELD_TOP, LINE = 168, 34
# The request service accepts 12 megapixels, 4000 a side: this is that side squared. A PNG this large costs 60 MB
# (RGB) to 120 MB (RGBA) while it is drawn, a JPEG a few MB; a larger picture is left out, read no further than
# its header.
MAX_PICTURE_PIXELS = 4000 * 4000
# Modes resampled as they are, before conversion to RGB: JPEG's and the opaque or alpha PNGs. A palette or 1-bit
# image is converted first (resampling them would pick pixels, not average them).
SHRINK_FIRST = ("RGB", "L", "CMYK", "RGBA", "LA")
# What a picture that cannot be drawn raises: bad base64, an unknown or damaged image, or one past Pillow's own
# bomb limits (an error past 179 megapixels; a warning past 89, raised where warnings are errors, as in the tests).
UNUSABLE = (
    binascii.Error,
    UnidentifiedImageError,
    OSError,
    ValueError,
    DecompressionBombError,
    DecompressionBombWarning,
)

FontType = ImageFont.FreeTypeFont | ImageFont.ImageFont

SEX = {"M": "LAKI-LAKI", "F": "PEREMPUAN", "L": "LAKI-LAKI", "P": "PEREMPUAN"}


@dataclass(frozen=True, slots=True)
class CardPicture:
    """The card as two layers: ``colour`` (RGB, no text) and ``text`` (L, 255 where black ink goes)."""

    colour: Image.Image
    text: Image.Image

    def composite(self) -> Image.Image:
        """What the printed card looks like (the preview)."""
        card = self.colour.copy()
        card.paste((0, 0, 0), (0, 0), self.text)
        return card


@lru_cache(maxsize=16)
def _font(size: int) -> FontType:
    return ImageFont.load_default(size=size)


def _upper(value: Any) -> str:
    return "" if value is None else str(value).strip().upper()


def _date(value: Any) -> str:
    if isinstance(value, dt.date):
        return value.strftime("%d-%m-%Y")
    text = "" if value is None else str(value).strip()
    try:
        return dt.date.fromisoformat(text[:10]).strftime("%d-%m-%Y")
    except ValueError:
        return text.upper()


def _regency_line(regency: str) -> str:
    regency = _upper(regency)
    if regency.startswith(("KABUPATEN", "KOTA")):
        return regency
    return f"KABUPATEN {regency}" if regency else "KABUPATEN"


def _issue_place(card: Mapping[str, Any]) -> str:
    place = _upper(card.get("issued_place"))
    if place:
        return place
    regency = _upper(card.get("regency")).removeprefix("KABUPATEN ").strip()
    return regency or "-"


def _fit(draw: ImageDraw.ImageDraw, text: str, font: FontType, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def _fit_size(
    draw: ImageDraw.ImageDraw, text: str, size: int, width: int, *, smallest: int = 14
) -> tuple[str, FontType]:
    """A long name in a narrow column: the font shrinks down to ``smallest``, then the text is cut with "…"."""
    for points in range(size, smallest - 1, -1):
        font = _font(points)
        if draw.textlength(text, font=font) <= width:
            return text, font
    return _fit(draw, text, font, width), font


def _fields(card: Mapping[str, Any]) -> list[tuple[str, str]]:
    birth = ", ".join(part for part in (_upper(card.get("birth_place")), _date(card.get("birth_date"))) if part)
    sex = SEX.get(_upper(card.get("sex")), _upper(card.get("sex")))
    rt, rw = _upper(card.get("rt")), _upper(card.get("rw"))
    return [
        ("Nama", _upper(card.get("name"))),
        ("Tempat/Tgl Lahir", birth),
        ("Jenis Kelamin", sex),
        ("Alamat", _upper(card.get("address"))),
        ("RT/RW", f"{rt.zfill(3) if rt else '-'}/{rw.zfill(3) if rw else '-'}"),
        ("Kel/Desa", _upper(card.get("village"))),
        ("Kecamatan", _upper(card.get("kecamatan"))),
        ("Agama", _upper(card.get("religion"))),
        ("Status Perkawinan", _upper(card.get("marital_status"))),
        ("Pekerjaan", _upper(card.get("occupation"))),
        ("Kewarganegaraan", _upper(card.get("citizenship")) or "WNI"),
        ("Berlaku Hingga", _upper(card.get("valid_until")) or "SEUMUR HIDUP"),
    ]


def _on_white(image: Image.Image) -> Image.Image:
    """``image`` as RGB: a transparent background (a signature pad's PNG) is the paper, not black ink."""
    if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        opaque = Image.new("RGB", rgba.size, (255, 255, 255))
        opaque.paste(rgba, mask=rgba.getchannel("A"))
        return opaque
    return image.convert("RGB")


def _picture(data: Any, box: tuple[int, int, int, int]) -> Image.Image | None:
    """A base64 JPEG/PNG scaled into ``box`` (keeping its aspect), or None if there is none, it is broken or its
    header gives it more than ``MAX_PICTURE_PIXELS`` (then not a pixel of it is decoded)."""
    if not data or not isinstance(data, str):
        return None
    size = (box[2] - box[0], box[3] - box[1])
    try:
        raw = base64.b64decode(data.split(",", 1)[-1], validate=False)
        with Image.open(io.BytesIO(raw)) as source:
            if source.width * source.height > MAX_PICTURE_PIXELS:
                return None
            if source.mode in SHRINK_FIRST and "transparency" not in source.info:
                source.thumbnail(size)  # a JPEG is decoded at 1/2, 1/4 or 1/8 scale (draft), a PNG reduced
            image = _on_white(source)
    except UNUSABLE:
        return None
    image.thumbnail(size)  # what could not be shrunk first: palette and 1-bit images, a transparent colour
    return image


def draw_card(card: Mapping[str, Any], *, issued_on: dt.date | None = None) -> CardPicture:
    """The e-KTP front of ``card`` (the request service's CardData) as colour and text layers."""
    colour = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    text = Image.new("L", (WIDTH, HEIGHT), 0)
    paint, ink = ImageDraw.Draw(colour), ImageDraw.Draw(text)

    paint.rectangle((0, 0, WIDTH, 92), fill=HEADER_BAND)
    header = _font(32)
    for y, line in (
        (10, f"PROVINSI {_upper(card.get('province'))}".strip()),
        (50, _regency_line(card.get("regency", ""))),
    ):
        ink.text((WIDTH // 2, y), line, font=header, fill=255, anchor="ma")

    nik_label, nik_value = _font(38), _font(42)
    ink.text((LABEL_X, 112), "NIK", font=nik_label, fill=255)
    ink.text((COLON_X - 40, 110), ":", font=nik_value, fill=255)
    ink.text((COLON_X - 20, 110), _upper(card.get("nik")), font=nik_value, fill=255)

    label_font, value_font = _font(22), _font(24)
    y = FIELD_TOP
    for label, value in _fields(card):
        ink.text((LABEL_X, y + 2), label, font=label_font, fill=255)
        ink.text((COLON_X, y), ":", font=value_font, fill=255)
        shown = _fit(ink, value, value_font, VALUE_RIGHT - VALUE_X)
        if label == "Jenis Kelamin":
            shown = _fit(ink, value, value_font, 200)
            blood = _upper(card.get("blood_type")) or "-"
            ink.text((VALUE_X + 230, y + 2), "Gol. Darah", font=label_font, fill=255)
            ink.text((VALUE_X + 360, y), f": {blood}", font=value_font, fill=255)
        ink.text((VALUE_X, y), shown, font=value_font, fill=255)
        y += LINE

    photo = _picture(card.get("photo"), PHOTO_BOX)
    if photo is None:
        paint.rectangle(PHOTO_BOX, fill=(235, 235, 235), outline=(120, 120, 120), width=2)
    else:
        left = PHOTO_BOX[0] + (PHOTO_BOX[2] - PHOTO_BOX[0] - photo.width) // 2
        colour.paste(photo, (left, PHOTO_BOX[1]))

    small = _font(22)
    centre = (PHOTO_BOX[0] + PHOTO_BOX[2]) // 2
    issued = card.get("issued_at") or issued_on or dt.date.today()
    place, place_font = _fit_size(ink, _issue_place(card), 22, PHOTO_BOX[2] - PHOTO_BOX[0])
    ink.text((centre, 408), place, font=place_font, fill=255, anchor="ma")
    ink.text((centre, 440), _date(issued), font=small, fill=255, anchor="ma")
    signature = _picture(card.get("signature"), SIGNATURE_BOX)
    if signature is not None:
        grey = signature.convert("L").point(lambda v: 255 if v < 128 else 0)
        left = SIGNATURE_BOX[0] + (SIGNATURE_BOX[2] - SIGNATURE_BOX[0] - grey.width) // 2
        text.paste(255, (left, SIGNATURE_BOX[1]), grey)
    else:
        ink.line((SIGNATURE_BOX[0] + 20, SIGNATURE_BOX[3] - 10, SIGNATURE_BOX[2] - 20, SIGNATURE_BOX[3] - 10), fill=255)
    return CardPicture(colour=colour, text=text)


def _one_bit(layer: Image.Image) -> bytes:
    """1 bit a pixel, most significant bit first, 1 where ink goes (1016 px = 127 bytes a row, no padding)."""
    return layer.point(lambda v: 255 if v >= 128 else 0).convert("1", dither=Image.Dither.NONE).tobytes()


_FULL_OVERLAY = b"\xff" * (WIDTH * HEIGHT // 8)


def render_panels(
    card: Mapping[str, Any], *, ribbon: str = "ymcko", issued_on: dt.date | None = None
) -> dict[str, bytes]:
    """The panels the printer's ribbon takes, in the driver's format (y/m/c: 256 levels; k, o: 2 levels)."""
    picture = draw_card(card, issued_on=issued_on)
    wanted = [panel for panel in PANELS if panel in ribbon.lower()]
    if not wanted:
        raise ValueError(f"ribbon {ribbon!r} has none of the panels {', '.join(PANELS)}")
    panels: dict[str, bytes] = {}
    if any(p in wanted for p in "ymc"):
        colour = picture.colour
        if "k" not in wanted:
            colour = picture.composite()  # no black panel: text is printed as CMY black
        cyan, magenta, yellow = (Image.eval(band, lambda v: 255 - v) for band in colour.split())
        for name, band in (("y", yellow), ("m", magenta), ("c", cyan)):
            if name in wanted:
                panels[name] = band.tobytes()
    if "k" in wanted:
        panels["k"] = _one_bit(picture.text)
    if "o" in wanted:
        panels["o"] = _FULL_OVERLAY
    return {name: panels[name] for name in PANELS if name in panels}


def render_png(card: Mapping[str, Any], *, issued_on: dt.date | None = None) -> bytes:
    """The preview: the card as printed, PNG at 300 dpi."""
    out = io.BytesIO()
    draw_card(card, issued_on=issued_on).composite().save(out, format="PNG", dpi=(300, 300), compress_level=1)
    return out.getvalue()
