"""Submitting print requests through HTTP: validation, idempotency, one active request per NIK, reading."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.request.conftest import Office
from tests.request.factories import PHOTO, make_nik, request_body


async def test_a_valid_walk_in_request_is_queued_with_its_position_and_date(office: Office) -> None:
    operator = office.as_("operator")
    response = await operator.post("/v1/requests", json=request_body(1))
    assert response.status_code == 201, response.text
    body = response.json()
    assert response.headers["location"] == f"/v1/requests/{body['id']}"
    assert body["status"] == "queued"
    assert body["priority"] == "regular"
    assert body["card"]["village"] == "Padang Ratu"
    assert body["card"]["kecamatan"] == "Gedong Tataan"
    assert body["card"]["regency"] == "Kabupaten Pesawaran"
    assert body["card"]["province"] == "Lampung"

    again = await operator.get(f"/v1/requests/{body['id']}")
    assert again.status_code == 200
    assert again.json()["queue"]["position"] == 1
    eta = dt.date.fromisoformat(again.json()["queue"]["estimated_print_date"])
    assert eta >= dt.date.today() - dt.timedelta(days=1)
    position = await operator.get(f"/v1/requests/{body['id']}/queue")
    assert position.json()["ahead"] == 0


def _case(field: str, **overrides: Any) -> tuple[str, dict[str, Any]]:
    return field, overrides


INVALID = [
    _case("nik", nik="1809011705900"),  # too short
    _case("nik", nik="1809013205900001"),  # day 32 is no date
    _case("nik", nik="9971011705900001"),  # 99.71 is no registered province and regency
    _case("kecamatan_code", kecamatan_code="18.09.99", village_code="18.09.99.2001"),
    _case("birth_date", birth_date="1990-05-18"),
    _case("sex", nik=make_nik(sex="F", serial=2)),
    _case("village_code", village_code="18.09.02.2001"),
    _case("village_code", village_code="18.09.01.2999"),
    _case(
        "birth_date",
        nik=make_nik(birth=dt.date.today().replace(year=dt.date.today().year - 15, day=1)),
        birth_date=dt.date.today().replace(year=dt.date.today().year - 15, day=1).isoformat(),
        marital_status="BELUM KAWIN",
    ),
    _case("photo", photo="bm90IGFuIGltYWdl"),  # base64 of "not an image"
    _case("photo", photo="%%%"),
    _case("photo", photo=PHOTO * 400),
    _case("signature", signature="iVBORw0KGgoAAAAA"),  # PNG magic, no image
    _case("reason_note", reason="other", reason_note=""),
    _case("old_ktp_seen", old_ktp_seen=False),
    _case("kk_copy_seen", kk_copy_seen=False),
    _case("religion", religion="JEDI"),
    _case("rt", rt="1"),
    _case("blood_type", blood_type="C"),
    _case("channel", channel="fax"),
    _case("citizenship", citizenship="XYZ"),
    _case("name", name="B0B"),
]


async def test_each_invalid_field_is_refused_with_422_naming_the_field(office: Office) -> None:
    operator = office.as_("operator")
    for expected, overrides in INVALID:
        response = await operator.post("/v1/requests", json=request_body(2, **overrides))
        assert response.status_code == 422, (expected, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        fields = [e["field"] for e in response.json()["errors"]]
        assert expected in fields, (expected, overrides.keys(), response.json())
    listing = await operator.get("/v1/requests")
    assert listing.json()["total"] == 0  # nothing was stored half-way


async def test_a_nik_from_anywhere_is_accepted_for_a_resident_living_in_pesawaran(office: Office) -> None:
    # A NIK keeps the place of first registration: Lampung Selatan before the 2007 split, Jakarta for a mover,
    # another kecamatan of Pesawaran for someone who moved within the regency.
    operator = office.as_("operator")
    for serial, (place, kecamatan) in enumerate(
        [("18.01.01", "18.09.01"), ("31.71.03", "18.09.05"), ("18.09.02", "18.09.01")], start=40
    ):
        body = request_body(serial, kecamatan=kecamatan, nik=make_nik(place, serial=serial), reason="address_change")
        response = await operator.post("/v1/requests", json=body)
        assert response.status_code == 201, (place, response.text)
        card = response.json()["card"]
        assert (card["nik"][:6], card["kecamatan_code"]) == (place.replace(".", ""), kecamatan)


async def test_a_nik_from_an_unregistered_place_is_refused_naming_the_nik(office: Office) -> None:
    body = request_body(44, nik="9971011705900044")
    response = await office.as_("operator").post("/v1/requests", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == ["nik"]


async def test_a_resident_under_17_who_is_married_may_have_a_card(office: Office) -> None:
    born = dt.date.today().replace(year=dt.date.today().year - 16, day=1)
    body = request_body(3, birth=born, marital_status="KAWIN")
    response = await office.as_("operator").post("/v1/requests", json=body)
    assert response.status_code == 201, response.text


async def test_a_replayed_idempotency_key_returns_the_first_answer_and_a_changed_body_gets_422(office: Office) -> None:
    operator = office.as_("operator")
    headers = {"Idempotency-Key": "desk-1-0001"}
    first = await operator.post("/v1/requests", json=request_body(4), headers=headers)
    replay = await operator.post("/v1/requests", json=request_body(4), headers=headers)
    assert first.status_code == replay.status_code == 201
    assert replay.json() == first.json()
    assert replay.headers["idempotent-replayed"] == "true"
    changed = await operator.post("/v1/requests", json=request_body(5), headers=headers)
    assert changed.status_code == 422
    assert changed.json()["errors"][0]["field"] == "Idempotency-Key"
    assert (await operator.get("/v1/requests")).json()["total"] == 1


async def test_a_second_active_request_for_a_nik_gets_409_with_a_link_to_the_first(office: Office) -> None:
    operator = office.as_("operator")
    first = (await operator.post("/v1/requests", json=request_body(6))).json()
    second = await operator.post("/v1/requests", json=request_body(6, reason="health"))
    assert second.status_code == 409
    problem = second.json()
    assert problem["existing_request"] == f"/v1/requests/{first['id']}"
    assert f"</v1/requests/{first['id']}>" in second.headers["link"]

    cancelled = await operator.post(f"/v1/requests/{first['id']}/cancel", json={"note": "resident asked"})
    assert cancelled.json()["status"] == "cancelled"
    third = await operator.post("/v1/requests", json=request_body(6))
    assert third.status_code == 201


async def test_lists_filter_by_status_kecamatan_reason_and_channel_and_operators_search_by_nik(office: Office) -> None:
    operator = office.as_("operator")
    await operator.post("/v1/requests", json=request_body(7, kecamatan="18.09.01"))
    await operator.post("/v1/requests", json=request_body(8, kecamatan="18.09.03", reason="health"))
    await operator.post("/v1/requests", json=request_body(9, kecamatan="18.09.03", channel="mobile_unit"))

    async def total(**params: str) -> int:
        response = await operator.get("/v1/requests", params=params)
        assert response.status_code == 200, response.text
        return int(response.json()["total"])

    assert await total() == 3
    assert await total(kecamatan="18.09.03") == 2
    assert await total(reason="health") == 1
    assert await total(channel="mobile_unit") == 1
    assert await total(status="queued") == 3
    assert await total(status="printed") == 0
    assert await total(nik=make_nik("18.09.01", serial=7)) == 1
    page = (await operator.get("/v1/requests", params={"limit": 2})).json()
    assert len(page["items"]) == 2
    assert page["total"] == 3

    clerk = office.as_("clerk", scope=["18.09.03"])
    mine = (await clerk.get("/v1/requests")).json()
    assert mine["total"] == 2
    assert {r["card"]["kecamatan_code"] for r in mine["items"]} == {"18.09.03"}
