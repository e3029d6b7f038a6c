"""Image bombs: a photo or signature of a few KB whose header claims millions of pixels is refused at intake,
single requests and batch rows alike, naming the field and the size, before a pixel is decoded."""

from __future__ import annotations

import base64
import functools
import io
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image

from services.common.problems import FieldError
from services.request.print_requests.validation import decode_image
from tests.factories import batch_row, image, request_body
from tests.request.conftest import InProcessRequestService

LIMITS = "at most 4000 pixels a side and 12 million pixels"  # the service's defaults (services/request/config.py)


@functools.cache
def blank_png(width: int, height: int) -> str:
    """A real 1-bit PNG of ``width`` × ``height`` pixels, base64: tens of KB for 13000 × 13000."""
    buffer = io.BytesIO()
    Image.new("1", (width, height)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize("thorough", [True, False], ids=["request", "batch-row"])
@pytest.mark.parametrize(
    ("width", "height"),
    [(13000, 13000), (14000, 14000), (4001, 100), (100, 4001), (4000, 3001)],
    ids=["pillow-warns", "pillow-refuses", "too-wide", "too-tall", "too-many-pixels"],
)
def test_an_image_larger_in_pixels_than_allowed_is_refused_with_its_size(
    width: int, height: int, thorough: bool
) -> None:
    # 13000² is past Pillow's decompression-bomb warning, 14000² past its error: both are ours to refuse, not a 500.
    assert decode_image("photo", blank_png(width, height), 512 * 1024, thorough=thorough) == (
        None,
        FieldError(field="photo", reason=f"{width}×{height} pixels is larger than allowed ({LIMITS})"),
    )


def test_an_image_at_the_pixel_limits_is_accepted() -> None:
    for width, height in ((4000, 3000), (3000, 4000), (4000, 1)):
        raw, error = decode_image("photo", blank_png(width, height), 512 * 1024)
        assert (raw is not None, error) == (True, None)


def test_the_pixel_limits_are_given_by_the_caller() -> None:
    assert decode_image("signature", blank_png(600, 200), 256 * 1024, max_side=500, max_pixels=10**6) == (
        None,
        FieldError(
            field="signature",
            reason="600×200 pixels is larger than allowed (at most 500 pixels a side and 1 million pixels)",
        ),
    )
    assert decode_image("signature", blank_png(600, 200), 256 * 1024, max_side=600, max_pixels=120_000)[1] is None


@pytest.mark.parametrize("field", ["photo", "signature"])
@pytest.mark.parametrize("side", [13000, 14000])
async def test_a_pixel_bomb_is_refused_with_422_naming_the_field_and_nothing_is_stored(
    office: InProcessRequestService, field: str, side: int
) -> None:
    operator = office.as_("operator")
    response = await operator.post("/v1/requests", json=request_body(1) | {field: blank_png(side, side)})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"] == [
        {"field": field, "reason": f"{side}×{side} pixels is larger than allowed ({LIMITS})"}
    ]
    assert (await operator.get("/v1/requests")).json()["total"] == 0


async def test_a_camera_photo_within_the_limits_is_accepted(office: InProcessRequestService) -> None:
    operator = office.as_("operator")
    passport = await operator.post("/v1/requests", json=request_body(1, photo=image("JPEG", (472, 709))))
    assert passport.status_code == 201, passport.text
    largest = await operator.post(
        "/v1/requests", json=request_body(2, photo=image("JPEG", (4000, 3000)), signature=blank_png(4000, 3000))
    )
    assert largest.status_code == 201, largest.text


async def test_the_office_sets_the_pixel_limits_of_each_image(open_office: Callable[..., Any]) -> None:
    async with open_office(photo_max_side=1000, photo_max_pixels=500_000, signature_max_side=300) as office:
        operator = office.as_("operator")
        body = request_body(1, photo=blank_png(800, 800), signature=blank_png(400, 100))
        response = await operator.post("/v1/requests", json=body)
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "field": "photo",
            "reason": "800×800 pixels is larger than allowed (at most 1000 pixels a side and 0.5 million pixels)",
        },
        {
            "field": "signature",
            "reason": "400×100 pixels is larger than allowed (at most 300 pixels a side and 12 million pixels)",
        },
    ]


async def test_a_batch_row_with_a_pixel_bomb_is_reported_by_row_and_field(office: InProcessRequestService) -> None:
    operator = office.as_("operator")
    rows = [batch_row(1), batch_row(2, photo=blank_png(13000, 13000)), batch_row(3, signature=blank_png(14000, 14000))]
    response = await operator.post("/v1/batches", json={"rows": rows})
    assert response.status_code == 201, response.text
    batch = response.json()
    assert (batch["accepted_rows"], batch["rejected_rows"]) == (1, 2)
    report = (await operator.get(batch["report"])).json()
    assert report["errors"] == [
        {"row": 2, "field": "photo", "reason": f"13000×13000 pixels is larger than allowed ({LIMITS})"},
        {"row": 3, "field": "signature", "reason": f"14000×14000 pixels is larger than allowed ({LIMITS})"},
    ]
