"""Submitting print requests through HTTP: validation, idempotency, one active request per NIK, reading."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.factories import PHOTO, batch_row, make_nik, request_body
from tests.request.conftest import OFFICE_TODAY, InProcessRequestService, expected_print_date


async def test_a_valid_walk_in_request_is_queued_with_its_position_and_date(office: InProcessRequestService) -> None:
    office.pin_clock()
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
    queue = again.json()["queue"]
    assert (queue["position"], queue["ahead"], queue["daily_capacity"]) == (1, 0, 400)
    assert dt.date.fromisoformat(queue["estimated_print_date"]) == expected_print_date(OFFICE_TODAY, 0, 400)
    position = await operator.get(f"/v1/requests/{body['id']}/queue")
    assert position.json() == queue


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


async def test_each_invalid_field_is_refused_with_422_naming_the_field(office: InProcessRequestService) -> None:
    operator = office.as_("operator")
    for expected, overrides in INVALID:
        response = await operator.post("/v1/requests", json=request_body(2, **overrides))
        assert response.status_code == 422, (expected, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        fields = [e["field"] for e in response.json()["errors"]]
        assert expected in fields, (expected, overrides.keys(), response.json())
    listing = await operator.get("/v1/requests")
    assert listing.json()["total"] == 0  # nothing was stored half-way


async def test_a_nik_from_anywhere_is_accepted_for_a_resident_living_in_pesawaran(
    office: InProcessRequestService,
) -> None:
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


async def test_a_nik_from_an_unregistered_place_is_refused_naming_the_nik(office: InProcessRequestService) -> None:
    body = request_body(44, nik="9971011705900044")
    response = await office.as_("operator").post("/v1/requests", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [e["field"] for e in response.json()["errors"]] == ["nik"]


async def test_a_resident_under_17_who_is_married_may_have_a_card(office: InProcessRequestService) -> None:
    born = dt.date.today().replace(year=dt.date.today().year - 16, day=1)
    body = request_body(3, birth=born, marital_status="KAWIN")
    response = await office.as_("operator").post("/v1/requests", json=body)
    assert response.status_code == 201, response.text


async def test_a_replayed_idempotency_key_returns_the_first_answer_and_a_changed_body_gets_422(
    office: InProcessRequestService,
) -> None:
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


async def test_a_second_active_request_for_a_nik_gets_409_with_a_link_to_the_first(
    office: InProcessRequestService,
) -> None:
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


async def drive_to(office: InProcessRequestService, request_id: str, status: str) -> None:
    """Take the queue's only request to ``status`` the way it gets there: the gateway's claim and reports (role
    service), then the desk's activation and handover or cancellation (role operator)."""
    operator, gateway = office.as_("operator"), office.as_("service")
    if status == "cancelled":
        response = await operator.post(f"/v1/requests/{request_id}/cancel", json={"note": "resident asked"})
        assert response.json()["status"] == "cancelled", response.text
        return
    claimed = await gateway.post("/v1/queue/claims", json={"job_id": "job_1", "printer_id": "printer-1"})
    assert claimed.status_code == 201, claimed.text
    assert claimed.json()["request_id"] == request_id
    if status == "printing":
        return
    sent = await gateway.post("/v1/queue/claims/job_1/sent", json={"printer_id": "printer-1"})
    assert sent.status_code == 200, sent.text
    if status == "needs_review":
        review = await gateway.post("/v1/queue/claims/job_1/needs-review", json={"reason": "power lost mid-card"})
        assert review.json()["status"] == "needs_review", review.text
        return
    report = {"card_serial": "KTP00000001", "printer_id": "printer-1"}
    printed = await gateway.post("/v1/queue/claims/job_1/printed", json=report)
    assert printed.json()["status"] == "printed", printed.text
    if status == "printed":
        return
    activated = await operator.post(f"/v1/requests/{request_id}/activate", json={"card_serial": "KTP00000001"})
    assert activated.json()["status"] == "activated", activated.text
    if status == "activated":
        return
    handed = await operator.post(f"/v1/requests/{request_id}/handover", json={"received_by": "BUDI SANTOSO"})
    assert handed.json()["status"] == "collected", handed.text
    assert status == "collected", status


@pytest.mark.parametrize("status", ["printing", "printed", "activated", "needs_review"])
async def test_a_second_request_for_a_nik_is_refused_while_the_first_is_not_yet_collected(
    office: InProcessRequestService, status: str
) -> None:
    operator = office.as_("operator")
    first = (await operator.post("/v1/requests", json=request_body(6))).json()["id"]
    await drive_to(office, first, status)

    second = await operator.post("/v1/requests", json=request_body(6, reason="lost_card"))
    assert second.status_code == 409, (status, second.text)
    problem = second.json()
    assert problem["type"].endswith("/duplicate-nik"), problem
    assert problem["existing_request"] == f"/v1/requests/{first}"
    assert f"</v1/requests/{first}>" in second.headers["link"]

    # the same resident in a kecamatan batch is refused too, the row naming the active request
    batch = (await operator.post("/v1/batches", json={"rows": [batch_row(6)]})).json()
    assert (batch["status"], batch["accepted_rows"]) == ("rejected", 0), batch
    report = (await operator.get(batch["report"])).json()
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(1, "nik")]
    assert f"/v1/requests/{first}" in report["errors"][0]["reason"]

    mine = (await operator.get("/v1/requests", params={"nik": make_nik(serial=6), "purpose": "pelayanan"})).json()
    assert [(r["id"], r["status"]) for r in mine["items"]] == [(first, status)]


@pytest.mark.parametrize("status", ["cancelled", "collected"])
async def test_a_nik_may_ask_again_once_its_request_is_cancelled_or_collected(
    office: InProcessRequestService, status: str
) -> None:
    operator = office.as_("operator")
    first = (await operator.post("/v1/requests", json=request_body(6))).json()["id"]
    await drive_to(office, first, status)

    again = await operator.post("/v1/requests", json=request_body(6, reason="lost_card"))
    assert again.status_code == 201, (status, again.text)
    assert again.json()["status"] == "queued"
    mine = (await operator.get("/v1/requests", params={"nik": make_nik(serial=6), "purpose": "pelayanan"})).json()
    assert sorted((r["id"], r["status"]) for r in mine["items"]) == sorted(
        [(first, status), (again.json()["id"], "queued")]
    )


async def test_lists_filter_by_status_kecamatan_reason_and_channel_and_operators_search_by_nik(
    office: InProcessRequestService,
) -> None:
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
    assert await total(nik=make_nik("18.09.01", serial=7), purpose="pelayanan") == 1
    page = (await operator.get("/v1/requests", params={"limit": 2})).json()
    assert len(page["items"]) == 2
    assert page["total"] == 3

    clerk = office.as_("clerk", scope=["18.09.03"])
    mine = (await clerk.get("/v1/requests")).json()
    assert mine["total"] == 2
    assert {r["card"]["kecamatan_code"] for r in mine["items"]} == {"18.09.03"}
