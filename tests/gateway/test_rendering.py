"""The e-KTP front: size, panels in the driver's format, text on the K panel, the same card → the same bytes;
and what a person sees on it: the header lines, the signature, the place and date of issue, each in its place."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import io
import json
import subprocess
import sys
import time

import pytest
from PIL import Image, ImageChops, ImageDraw

from drivers import PANEL_HEIGHT, PANEL_WIDTH, panel_size
from services.gateway.rendering import CardPicture, draw_card, render_panels, render_png
from services.gateway.rendering.card import PHOTO_BOX, SIGNATURE_BOX
from tests.gateway.conftest import SAMPLE_CARD


def test_the_preview_is_a_1016_by_648_png_at_300_dpi() -> None:
    image = Image.open(io.BytesIO(render_png(SAMPLE_CARD)))
    assert image.size == (PANEL_WIDTH, PANEL_HEIGHT) == (1016, 648)
    assert round(image.info["dpi"][0]) == 300


def test_a_ymcko_ribbon_gets_five_panels_of_the_sizes_the_driver_expects() -> None:
    panels = render_panels(SAMPLE_CARD, ribbon="ymcko")
    assert list(panels) == ["y", "m", "c", "k", "o"]
    assert {name: len(data) for name, data in panels.items()} == {
        "y": panel_size(256),
        "m": panel_size(256),
        "c": panel_size(256),
        "k": panel_size(2),
        "o": panel_size(2),
    }


@pytest.mark.parametrize(("ribbon", "expected"), [("ko", ["k", "o"]), ("k", ["k"]), ("ymc", ["y", "m", "c"])])
def test_the_panels_follow_the_ribbon(ribbon: str, expected: list[str]) -> None:
    assert list(render_panels(SAMPLE_CARD, ribbon=ribbon)) == expected


def test_the_text_is_on_the_black_panel_and_the_nik_changes_it() -> None:
    k = render_panels(SAMPLE_CARD, ribbon="k")["k"]
    inked = sum(bin(byte).count("1") for byte in k)
    assert 0.01 < inked / (PANEL_WIDTH * PANEL_HEIGHT) < 0.3
    other = render_panels(SAMPLE_CARD | {"nik": "1809010101900001"}, ribbon="k")["k"]
    assert other != k


def test_the_nik_sits_in_the_nik_row_of_the_text_layer() -> None:
    text = draw_card(SAMPLE_CARD).text
    nik_row = text.crop((240, 110, 700, 160))
    assert nik_row.getbbox() is not None
    assert text.crop((240, 110, 700, 160)).histogram()[255] > 2000


def test_the_same_card_renders_to_the_same_bytes() -> None:
    assert render_panels(SAMPLE_CARD) == render_panels(dict(SAMPLE_CARD))
    assert render_png(SAMPLE_CARD) == render_png(dict(SAMPLE_CARD))


def test_the_photo_goes_right_of_the_fields() -> None:
    photo = Image.new("RGB", (300, 400), (200, 30, 30))
    out = io.BytesIO()
    photo.save(out, format="JPEG")
    card = SAMPLE_CARD | {"photo": base64.b64encode(out.getvalue()).decode()}
    colour = draw_card(card).colour
    red, green, _ = colour.getpixel((875, 250))  # type: ignore[misc]
    assert red > 150
    assert green < 80
    assert colour.getpixel((100, 620)) != colour.getpixel((875, 250))


def test_a_broken_photo_or_missing_fields_still_draws_a_card() -> None:
    panels = render_panels({"nik": "1809014501900002", "name": "X", "photo": "not base64!"})
    assert len(panels["k"]) == panel_size(2)


def test_rendering_a_card_takes_a_fraction_of_a_second_of_cpu() -> None:
    render_panels(SAMPLE_CARD)
    started = time.process_time()  # CPU time: the machine may be busy with other work
    for _ in range(5):
        render_panels(SAMPLE_CARD)
    assert (time.process_time() - started) / 5 < 0.2


# What a person looks at on the front, as boxes of the 1016 × 648 card (services/gateway/rendering/card.py).
REGIONS: dict[str, tuple[int, int, int, int]] = {
    "province line": (0, 0, PANEL_WIDTH, 50),
    "regency line": (0, 50, PANEL_WIDTH, 92),
    "NIK and fields": (0, 92, 760, PANEL_HEIGHT),
    "photo": PHOTO_BOX,
    "place of issue": (PHOTO_BOX[0], PHOTO_BOX[3], PHOTO_BOX[2], 436),
    "date of issue": (PHOTO_BOX[0], 436, PHOTO_BOX[2], SIGNATURE_BOX[1] - 20),
    "signature": SIGNATURE_BOX,
}


def _encoded(image: Image.Image, fmt: str = "PNG") -> str:
    out = io.BytesIO()
    image.save(out, format=fmt)
    return base64.b64encode(out.getvalue()).decode()


def _signature(points: list[tuple[int, int]], *, transparent: bool = False, size: tuple[int, int] = (400, 150)) -> str:
    """A pen stroke through ``points``: black on white, or black on a transparent background (a signature pad)."""
    image = Image.new("RGBA", size, (0, 0, 0, 0)) if transparent else Image.new("RGB", size, "white")
    ImageDraw.Draw(image).line(points, fill=(0, 0, 0, 255) if transparent else "black", width=6)
    return _encoded(image)


ZIGZAG = [(20, 120), (80, 30), (140, 110), (200, 40), (260, 120), (380, 60)]
LOOP = [(30, 40), (370, 40), (370, 120), (30, 120), (200, 20)]


def _difference(a: CardPicture, b: CardPicture) -> Image.Image:
    """255-scaled mask of every pixel where the two printed cards differ (text layer or any colour band)."""
    mask = ImageChops.difference(a.text, b.text)
    for band in ImageChops.difference(a.colour, b.colour).split():
        mask = ImageChops.lighter(mask, band)
    return mask


def regions_changed(a: CardPicture, b: CardPicture) -> set[str]:
    """The named regions where ``a`` and ``b`` differ, and ``elsewhere`` if any pixel outside them does."""
    mask = _difference(a, b)
    changed = {name for name, box in REGIONS.items() if mask.crop(box).getbbox() is not None}
    outside = mask.copy()
    for box in REGIONS.values():
        outside.paste(0, box)
    if outside.getbbox() is not None:
        changed.add(f"elsewhere {outside.getbbox()}")
    return changed


def ink_box(picture: CardPicture, region: str) -> tuple[int, int, int, int]:
    """The bounding box (card coordinates) of the black ink inside a region."""
    left, top, right, bottom = REGIONS[region]
    box = picture.text.crop((left, top, right, bottom)).getbbox()
    assert box is not None, f"no ink in the {region}"
    return box[0] + left, box[1] + top, box[2] + left, box[3] + top


def test_the_header_shows_the_province_on_the_first_line_and_the_regency_on_the_second() -> None:
    card = SAMPLE_CARD | {"issued_place": "GEDONG TATAAN"}  # the place of issue does not follow the regency
    base = draw_card(card)
    assert regions_changed(base, draw_card(card | {"province": "JAWA BARAT"})) == {"province line"}
    assert regions_changed(base, draw_card(card | {"regency": "BANDUNG"})) == {"regency line"}
    # Both lines are centred on the card, as on the real one.
    for line in ("province line", "regency line"):
        left, _, right, _ = ink_box(base, line)
        assert abs((left + right) / 2 - PANEL_WIDTH / 2) <= 4, (line, left, right)


def test_without_a_place_of_issue_the_card_names_the_regency_under_the_photo() -> None:
    base = draw_card(SAMPLE_CARD)
    other = draw_card(SAMPLE_CARD | {"regency": "BANDUNG"})
    assert regions_changed(base, other) == {"regency line", "place of issue"}
    assert regions_changed(base, draw_card(SAMPLE_CARD | {"issued_place": "PESAWARAN"})) == set()


def test_a_regency_sent_with_its_kabupaten_or_kota_word_is_not_prefixed_twice() -> None:
    plain = draw_card(SAMPLE_CARD)
    assert regions_changed(plain, draw_card(SAMPLE_CARD | {"regency": "KABUPATEN PESAWARAN"})) == set()
    # A city: "KOTA METRO" (shorter than "KABUPATEN METRO"), not "KABUPATEN KOTA METRO" (longer).
    city = ink_box(draw_card(SAMPLE_CARD | {"regency": "KOTA METRO", "issued_place": "METRO"}), "regency line")
    regency = ink_box(draw_card(SAMPLE_CARD | {"regency": "METRO", "issued_place": "METRO"}), "regency line")
    assert city[2] - city[0] < regency[2] - regency[0]


def test_the_longest_province_and_regency_names_stay_inside_the_header() -> None:
    card = SAMPLE_CARD | {
        "province": "KEPULAUAN BANGKA BELITUNG",
        "regency": "KEPULAUAN SIAU TAGULANDANG BIARO",
        "issued_place": "GEDONG TATAAN",
    }
    picture = draw_card(card)
    assert regions_changed(draw_card(SAMPLE_CARD | {"issued_place": "GEDONG TATAAN"}), picture) == {
        "province line",
        "regency line",
    }
    for line in ("province line", "regency line"):
        left, _, right, _ = ink_box(picture, line)
        assert left >= 20, (line, left)
        assert right <= PANEL_WIDTH - 20, (line, right)


def _place_of_issue_ink(regency: str) -> tuple[int, int]:
    """Left and right edge of the place of issue (the regency's name when no place is given)."""
    picture = draw_card(SAMPLE_CARD | {"regency": regency})
    top, bottom = REGIONS["place of issue"][1], REGIONS["place of issue"][3]
    box = picture.text.crop((REGIONS["NIK and fields"][2], top, PANEL_WIDTH, bottom)).getbbox()
    assert box is not None
    return box[0] + REGIONS["NIK and fields"][2], box[2] + REGIONS["NIK and fields"][2]


@pytest.mark.parametrize("regency", ["PESAWARAN", "LAMPUNG SELATAN"])
def test_the_place_of_issue_sits_in_the_photo_column(regency: str) -> None:
    left, right = _place_of_issue_ink(regency)
    assert PHOTO_BOX[0] <= left
    assert right <= PHOTO_BOX[2]


@pytest.mark.parametrize("regency", ["TULANG BAWANG BARAT", "KEPULAUAN SIAU TAGULANDANG BIARO"])
def test_a_long_place_of_issue_is_fitted_to_the_photo_column(regency: str) -> None:
    left, right = _place_of_issue_ink(regency)
    assert PHOTO_BOX[0] <= left
    assert right <= PHOTO_BOX[2]


def test_the_signature_is_drawn_in_black_in_its_box_under_the_photo() -> None:
    unsigned = draw_card(SAMPLE_CARD)
    signed = draw_card(SAMPLE_CARD | {"signature": _signature(ZIGZAG)})
    assert regions_changed(unsigned, signed) == {"signature"}
    assert signed.colour.tobytes() == unsigned.colour.tobytes()  # ink only: it goes on the black panel
    other = draw_card(SAMPLE_CARD | {"signature": _signature(LOOP)})
    assert regions_changed(signed, other) == {"signature"}
    inked = signed.text.crop(SIGNATURE_BOX).histogram()[255] / (
        (SIGNATURE_BOX[2] - SIGNATURE_BOX[0]) * (SIGNATURE_BOX[3] - SIGNATURE_BOX[1])
    )
    assert 0.01 < inked < 0.2  # a pen stroke, not a filled box


def test_a_signature_larger_than_its_box_is_scaled_down_to_fit_it() -> None:
    big = _signature([(40 * x // 10, 300 * (x % 2) + 100) for x in range(0, 2000, 100)], size=(2000, 600))
    picture = draw_card(SAMPLE_CARD | {"signature": big})
    assert regions_changed(draw_card(SAMPLE_CARD), picture) == {"signature"}
    left, _, right, _ = ink_box(picture, "signature")
    assert right - left > (SIGNATURE_BOX[2] - SIGNATURE_BOX[0]) * 0.8  # uses the box's width, not a corner of it


def test_a_signature_on_a_transparent_background_prints_the_strokes_not_a_black_box() -> None:
    # Signature pads and browser canvases give PNGs with a transparent background (black under the alpha).
    on_white = draw_card(SAMPLE_CARD | {"signature": _signature(ZIGZAG)})
    transparent = draw_card(SAMPLE_CARD | {"signature": _signature(ZIGZAG, transparent=True)})
    assert transparent.text.tobytes() == on_white.text.tobytes()


def test_the_place_and_date_of_issue_are_drawn_under_the_photo_place_above_date() -> None:
    card = {key: value for key, value in SAMPLE_CARD.items() if key != "issued_at"}
    first = draw_card(card, issued_on=dt.date(2026, 11, 29))
    assert regions_changed(first, draw_card(card, issued_on=dt.date(2027, 3, 4))) == {"date of issue"}
    assert regions_changed(first, draw_card(card | {"issued_place": "METRO"}, issued_on=dt.date(2026, 11, 29))) == {
        "place of issue"
    }
    place, date = ink_box(first, "place of issue"), ink_box(first, "date of issue")
    assert place[3] < date[1]
    assert PHOTO_BOX[3] < place[1]
    assert date[3] < SIGNATURE_BOX[1]


def test_the_date_of_issue_the_card_carries_is_the_one_printed() -> None:
    # The gateway stamps ``issued_at`` when it prepares the card, so the preview shows the printed date.
    card = {key: value for key, value in SAMPLE_CARD.items() if key != "issued_at"}
    carried = draw_card(card | {"issued_at": "2026-11-29"}, issued_on=dt.date(2027, 3, 4))
    assert regions_changed(carried, draw_card(card, issued_on=dt.date(2026, 11, 29))) == set()


# Image bombs: a picture's header may claim far more pixels than its bytes suggest (a 1-bit PNG of 12000 × 12000
# is 17 KB). Memory is measured in a fresh process, where Pillow's bomb warning is only a warning as in production,
# as its VmHWM: ru_maxrss would start at the pytest process's peak (Linux keeps it across fork and exec).
DRAW_ONE_CARD = """
import json, sys
from services.gateway.rendering import draw_card

def peak_mb():
    with open("/proc/self/status") as status:
        return int(status.read().split("VmHWM:")[1].split()[0]) / 1024

card = json.load(sys.stdin)
draw_card({})  # fonts loaded before the measure
before = peak_mb()
picture = draw_card(card)
print(json.dumps({"grown_mb": peak_mb() - before, "photo": picture.colour.getpixel((875, 250))}))
"""
READS_PROC = pytest.mark.skipif(sys.platform != "linux", reason="reads the peak memory from /proc/self/status")


def _drawn_in_a_fresh_process(card: dict[str, object]) -> tuple[float, tuple[int, ...]]:
    """How much the process's peak memory grew while drawing ``card``, and the colour at the photo's centre."""
    done = subprocess.run(
        [sys.executable, "-c", DRAW_ONE_CARD], input=json.dumps(card), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    return answer["grown_mb"], tuple(answer["photo"])


@functools.cache
def _blank(fmt: str, size: tuple[int, int]) -> str:
    """A real image of one colour, as few bytes as its format allows (1-bit PNG, greyscale JPEG)."""
    return _encoded(Image.new("1" if fmt == "PNG" else "L", size), fmt)


@READS_PROC
@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_a_photo_of_12000_by_12000_pixels_is_left_out_without_decoding_it(fmt: str) -> None:
    # Decoded, it took 685 MB (1.1 GB for RGB); 16 megapixels is the most the gateway decodes.
    grown_mb, photo = _drawn_in_a_fresh_process(SAMPLE_CARD | {"photo": _blank(fmt, (12000, 12000))})
    assert grown_mb < 200
    assert photo == draw_card(SAMPLE_CARD | {"photo": "not base64!"}).colour.getpixel((875, 250))  # the grey box


@READS_PROC
@pytest.mark.parametrize(("fmt", "budget_mb"), [("JPEG", 20), ("PNG", 64)])
def test_a_camera_photo_as_large_as_the_request_service_accepts_is_drawn_at_a_small_cost(
    fmt: str, budget_mb: int
) -> None:
    # 4000 × 3000, 12 megapixels: a JPEG is decoded at an eighth of its size, a PNG shrunk before it is converted
    # (both took 90 MB when converted to RGB at full size first).
    photo = Image.new("RGB", (4000, 3000), (200, 30, 30))
    grown_mb, centre = _drawn_in_a_fresh_process(SAMPLE_CARD | {"photo": _encoded(photo, fmt)})
    assert grown_mb < budget_mb
    red, green, _ = centre
    assert red > 150
    assert green < 80


@pytest.mark.parametrize("side", [12000, 14000], ids=["pillow-warns", "pillow-refuses"])
def test_a_decompression_bomb_is_left_out_like_a_broken_picture_not_raised(side: int) -> None:
    # Past 89 megapixels Pillow warns (an error here, warnings are errors), past 179 it raises DecompressionBombError.
    bomb = _blank("PNG", (side, side))
    broken = draw_card(SAMPLE_CARD | {"photo": "not base64!"})
    assert draw_card(SAMPLE_CARD | {"photo": bomb}).colour.tobytes() == broken.colour.tobytes()
    assert draw_card(SAMPLE_CARD | {"signature": bomb}).text.tobytes() == draw_card(SAMPLE_CARD).text.tobytes()
    assert render_panels(SAMPLE_CARD | {"photo": bomb, "signature": bomb}) == render_panels(
        SAMPLE_CARD | {"photo": "not base64!"}
    )
