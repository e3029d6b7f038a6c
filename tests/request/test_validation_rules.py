"""The rules a print request's card data must satisfy (services/request/print_requests/validation.py), one at a
time: which field is refused, with the words the front desk reads, and where each limit lies."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest

from services.common.problems import FieldError
from services.request.config import Settings
from services.request.print_requests.schemas import RequestIn
from services.request.print_requests.validation import CheckedRequest, check_request, decode_image, nik_problem
from tests.factories import CATALOG, PHOTO, SIGNATURE, make_nik, request_body

SETTINGS = Settings()
BORN = dt.date(1990, 5, 17)  # the factory's resident
TODAY = dt.date(2026, 11, 2)
JPEG = base64.b64decode(PHOTO)
PNG = base64.b64decode(SIGNATURE)


def check(today: dt.date = TODAY, **overrides: Any) -> tuple[CheckedRequest | None, list[FieldError]]:
    data = RequestIn.model_validate(request_body(1, **overrides))
    return check_request(data, catalog=CATALOG, settings=SETTINGS, today=today)


def errors(today: dt.date = TODAY, **overrides: Any) -> list[tuple[str, str]]:
    checked, found = check(today, **overrides)
    assert (checked is None) == bool(found)
    return [(e.field, e.reason) for e in found]


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


# The request as a whole.


def test_a_valid_request_comes_back_with_its_photo_and_signature_decoded() -> None:
    checked, found = check()

    assert found == []
    assert checked is not None
    assert (checked.data.nik, checked.photo, checked.signature) == (make_nik(serial=1), JPEG, PNG)


def test_every_broken_rule_is_reported_at_once_in_the_order_of_the_form() -> None:
    assert errors(
        birth_date="1990-05-18",
        sex="F",
        nik=make_nik(serial=1),  # a man's
        village_code="18.09.02.2001",
        reason="other",
        reason_note=" ",
        old_ktp_seen=False,
        kk_copy_seen=False,
        photo=b64(b"GIF89a"),
        signature=b64(b"GIF89a"),
    ) == [
        ("birth_date", "does not match the NIK's date 17-05-90"),
        ("sex", "does not match the NIK (which says M)"),
        ("village_code", "a desa of kecamatan 18.09.02"),
        ("reason_note", "required when the reason is other"),
        ("old_ktp_seen", "a walk-in needs the old KTP seen"),
        ("kk_copy_seen", "a walk-in needs the KK copy seen"),
        ("photo", "not a JPEG or PNG image"),
        ("signature", "not a JPEG or PNG image"),
    ]


def test_a_request_whose_images_alone_are_broken_is_refused() -> None:
    checked, found = check(signature=b64(PNG[:-12]))

    assert checked is None
    assert [(e.field, e.reason) for e in found] == [("signature", "a truncated or damaged JPEG or PNG image")]


# The NIK, and the birth date and sex it encodes.


@pytest.mark.parametrize(
    ("nik", "problem"),
    [
        ("1809011705900001", None),
        ("1809013205900001", "its date part is not a date"),  # day 32
        ("1809011713900001", "its date part is not a date"),  # month 13
        ("9971011705900001", "its region is not a registered province and regency"),
        ("1809 0117 0590 0001", None),  # spaces, as people type it
        ("1809-0132-0590-0001", "its date part is not a date"),
        ("9971 0117 0590 0001", "its region is not a registered province and regency"),
        ("1809011705900", "16 digits are required"),
        ("18090117059000011", "16 digits are required"),
        ("18090117059000AB", "16 digits are required"),
    ],
)
def test_a_nik_is_16_digits_with_a_date_and_a_registered_place(nik: str, problem: str | None) -> None:
    assert nik_problem(nik) == problem


def test_an_invalid_nik_is_refused_and_not_compared_with_the_birth_date_or_sex() -> None:
    assert errors(nik="1809013205900001", birth_date="1990-05-18", sex="F") == [
        ("nik", "not a valid NIK: its date part is not a date")
    ]


@pytest.mark.parametrize(
    "born",
    [dt.date(1990, 5, 18), dt.date(1990, 6, 17), dt.date(1991, 5, 17), dt.date(1890, 5, 17)],
    ids=["day", "month", "year", "century"],
)
def test_a_birth_date_other_than_the_niks_is_refused_quoting_the_niks_date(born: dt.date) -> None:
    found = errors(birth_date=born.isoformat())
    expected = [] if born.year == 1890 else [("birth_date", "does not match the NIK's date 17-05-90")]
    assert found == expected  # the NIK keeps two digits of the year: 1890 and 1990 read the same


def test_the_niks_date_is_quoted_with_two_digits_for_day_month_and_year() -> None:
    born = dt.date(2005, 3, 7)
    nik = make_nik(birth=born, serial=1)

    assert errors(nik=nik, birth_date="2005-03-08") == [("birth_date", "does not match the NIK's date 07-03-05")]


def test_a_womans_nik_adds_40_to_the_day_and_says_f() -> None:
    nik = make_nik(sex="F", serial=1)  # 570590: day 17 + 40
    assert nik[6:8] == "57"

    assert errors(nik=nik, sex="F") == []
    assert errors(nik=nik, sex="M") == [("sex", "does not match the NIK (which says F)")]
    assert errors(nik=nik, sex="F", birth_date="1990-05-18") == [
        ("birth_date", "does not match the NIK's date 17-05-90")
    ]


def test_a_mans_nik_with_the_sex_f_is_refused_saying_m() -> None:
    assert errors(sex="F", nik=make_nik(serial=1)) == [("sex", "does not match the NIK (which says M)")]


# The address inside the regency.


def test_a_kecamatan_outside_the_regency_is_refused() -> None:
    assert errors(kecamatan_code="18.09.99", village_code="18.09.99.2001") == [
        ("kecamatan_code", "not a kecamatan of regency 18.09"),
        ("village_code", "not a desa of regency 18.09"),
    ]


def test_a_village_unknown_in_the_regency_is_refused() -> None:
    assert errors(village_code="18.09.01.2999") == [("village_code", "not a desa of regency 18.09")]


def test_a_village_of_another_kecamatan_is_refused_naming_its_kecamatan() -> None:
    assert errors(village_code=CATALOG.kecamatan["18.09.03"].villages[0]) == [
        ("village_code", "a desa of kecamatan 18.09.03")
    ]


# Age and marriage.


def test_a_birth_date_after_today_is_refused_and_on_the_day_itself_is_a_newborns() -> None:
    assert errors(today=BORN - dt.timedelta(days=1)) == [("birth_date", "in the future")]
    assert errors(today=BORN) == []  # married, as the factory's resident is


@pytest.mark.parametrize(
    ("today", "allowed"),
    [
        (dt.date(2007, 5, 17), True),  # the 17th birthday
        (dt.date(2007, 5, 16), False),  # the day before
        (dt.date(2007, 6, 1), True),  # a later month, an earlier day of it
        (dt.date(2007, 4, 30), False),  # an earlier month, a later day of it
        (dt.date(2006, 12, 31), False),
        (dt.date(2008, 1, 1), True),
    ],
)
def test_a_single_resident_may_have_a_card_from_the_17th_birthday(today: dt.date, allowed: bool) -> None:
    found = errors(today=today, marital_status="BELUM KAWIN")

    assert found == ([] if allowed else [("birth_date", "younger than 17 and not married")])


@pytest.mark.parametrize("status", ["KAWIN", "CERAI HIDUP", "CERAI MATI"])
def test_a_resident_under_17_who_is_or_was_married_may_have_a_card(status: str) -> None:
    assert errors(today=dt.date(2007, 5, 16), marital_status=status) == []


def test_the_minimum_age_is_the_configured_one() -> None:
    data = RequestIn.model_validate(request_body(1, marital_status="BELUM KAWIN"))
    _, found = check_request(data, catalog=CATALOG, settings=Settings(minimum_age=18), today=dt.date(2008, 5, 16))

    assert [(e.field, e.reason) for e in found] == [("birth_date", "younger than 18 and not married")]


# The reason and the documents.


@pytest.mark.parametrize(("note", "refused"), [(None, True), ("", True), ("   ", True), ("pension office", False)])
def test_the_reason_other_needs_a_note(note: str | None, refused: bool) -> None:
    found = errors(reason="other", reason_note=note)

    assert found == ([("reason_note", "required when the reason is other")] if refused else [])


def test_a_note_is_not_needed_for_a_named_reason() -> None:
    assert errors(reason="first_card", reason_note="") == []


def test_a_walk_in_needs_the_old_ktp_and_the_kk_copy_seen_and_other_channels_do_not() -> None:
    assert errors(old_ktp_seen=False) == [("old_ktp_seen", "a walk-in needs the old KTP seen")]
    assert errors(kk_copy_seen=False) == [("kk_copy_seen", "a walk-in needs the KK copy seen")]
    for channel in ("kecamatan_batch", "partner", "mobile_unit"):
        assert errors(channel=channel, reason="status_change", old_ktp_seen=False, kk_copy_seen=False) == []


# The images.


def test_an_image_is_refused_for_its_size_before_it_is_decoded() -> None:
    limit = 300 * 4 // 3 + 8  # the base64 of 300 bytes, and some slack

    assert decode_image("photo", "%" * (limit + 1), 300) == (
        None,
        FieldError(field="photo", reason="larger than 300 bytes"),
    )
    assert decode_image("photo", "%" * limit, 300) == (None, FieldError(field="photo", reason="not valid base64"))


def test_an_image_of_exactly_the_maximum_size_is_accepted_and_one_byte_more_is_not() -> None:
    assert decode_image("photo", PHOTO, len(JPEG)) == (JPEG, None)
    assert decode_image("photo", PHOTO, len(JPEG) - 1) == (
        None,
        FieldError(field="photo", reason=f"larger than {len(JPEG) - 1} bytes"),
    )


def test_an_image_with_characters_outside_base64_is_refused() -> None:
    assert decode_image("photo", PHOTO[:8] + "*" + PHOTO[8:], 10_000) == (
        None,
        FieldError(field="photo", reason="not valid base64"),
    )


def test_an_image_that_is_neither_jpeg_nor_png_is_refused() -> None:
    assert decode_image("signature", b64(b"GIF89a" + bytes(40)), 10_000) == (
        None,
        FieldError(field="signature", reason="not a JPEG or PNG image"),
    )


@pytest.mark.parametrize(
    "raw",
    [
        JPEG[:-2],  # no end-of-image marker
        b"\xff\xd8\xff\xd9",  # a marker and nothing else
        PNG[:-12],  # no IEND chunk
        PNG[:12] + b"IHDX" + PNG[16:],  # no IHDR chunk
    ],
    ids=["jpeg-without-eoi", "jpeg-of-4-bytes", "png-without-iend", "png-without-ihdr"],
)
def test_a_truncated_image_is_refused_even_by_the_quick_check_of_batches(raw: bytes) -> None:
    damaged = FieldError(field="photo", reason="a truncated or damaged JPEG or PNG image")

    assert decode_image("photo", b64(raw), 10_000) == (None, damaged)
    assert decode_image("photo", b64(raw), 10_000, thorough=False) == (None, damaged)


def test_a_jpeg_followed_by_anything_but_zero_bytes_is_refused_as_truncated() -> None:
    damaged = FieldError(field="photo", reason="a truncated or damaged JPEG or PNG image")

    assert decode_image("photo", b64(JPEG + b"XX"), 10_000, thorough=False) == (None, damaged)
    assert decode_image("photo", b64(JPEG + b"  "), 10_000, thorough=False) == (None, damaged)


def test_a_jpeg_padded_with_zero_bytes_after_its_end_is_accepted() -> None:
    padded = JPEG + bytes(16)

    assert decode_image("photo", b64(padded), 10_000) == (padded, None)


def test_an_image_framed_right_but_damaged_inside_is_refused_by_pillow_and_passed_by_the_quick_check() -> None:
    for raw in (b"\xff\xd8\xff\xff\xd9", b"\xff\xd8\xff\x00\xff\xd9", PNG[:33] + b"\x00" * 8 + PNG[-12:]):
        assert decode_image("photo", b64(raw), 10_000) == (
            None,
            FieldError(field="photo", reason="a damaged JPEG or PNG image"),
        )
        assert decode_image("photo", b64(raw), 10_000, thorough=False) == (raw, None)


def test_a_png_and_a_jpeg_are_each_read_as_what_their_bytes_say() -> None:
    assert decode_image("signature", SIGNATURE, 10_000) == (PNG, None)
    assert decode_image("photo", PHOTO, 10_000) == (JPEG, None)


def test_the_photo_and_the_signature_have_their_own_size_limits() -> None:
    small = Settings(photo_max_bytes=1024, signature_max_bytes=256)
    big = b64(JPEG + bytes(1024 - len(JPEG) + 1))
    data = RequestIn.model_validate(request_body(1, photo=big, signature=b64(PNG + bytes(256 - len(PNG) + 1))))

    _, found = check_request(data, catalog=CATALOG, settings=small, today=TODAY)

    assert [(e.field, e.reason) for e in found] == [
        ("photo", "larger than 1024 bytes"),
        ("signature", "larger than 256 bytes"),
    ]


def test_a_request_is_checked_thoroughly_a_photo_or_signature_damaged_inside_is_refused() -> None:
    damaged_jpeg = b64(b"\xff\xd8\xff\x00\xff\xd9")
    damaged_png = b64(PNG[:33] + b"\x00" * 8 + PNG[-12:])

    assert errors(photo=damaged_jpeg) == [("photo", "a damaged JPEG or PNG image")]
    assert errors(signature=damaged_png) == [("signature", "a damaged JPEG or PNG image")]


def test_a_batch_row_is_checked_by_the_frame_only_for_both_images() -> None:
    damaged_jpeg = b"\xff\xd8\xff\x00\xff\xd9"
    damaged_png = PNG[:33] + b"\x00" * 8 + PNG[-12:]
    data = RequestIn.model_validate(request_body(1, photo=b64(damaged_jpeg), signature=b64(damaged_png)))

    checked, found = check_request(data, catalog=CATALOG, settings=SETTINGS, today=TODAY, thorough=False)

    assert found == []
    assert checked is not None
    assert (checked.photo, checked.signature) == (damaged_jpeg, damaged_png)
