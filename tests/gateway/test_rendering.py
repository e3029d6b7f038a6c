"""The e-KTP front: size, panels in the driver's format, text on the K panel, the same card → the same bytes."""

from __future__ import annotations

import base64
import io
import time

import pytest
from PIL import Image

from drivers import PANEL_HEIGHT, PANEL_WIDTH, panel_size
from services.gateway.rendering import draw_card, render_panels, render_png
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
