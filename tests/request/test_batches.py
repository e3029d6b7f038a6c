"""Kecamatan batches through HTTP: valid rows queued, invalid rows reported by row, field and reason."""

from __future__ import annotations

from typing import Any

from tests.factories import batch_row, make_nik, to_csv
from tests.request.conftest import InProcessRequestService


def mixed_rows() -> list[dict[str, Any]]:
    rows = [batch_row(n) for n in range(1, 6)]  # rows 1-5 valid
    rows.append(batch_row(6, rt="12"))  # row 6: rt
    rows.append(batch_row(7, village_code="18.09.03.2001"))  # row 7: desa of another kecamatan
    rows.append(batch_row(8, nik=make_nik(serial=9999), birth_date="1990-05-18"))  # row 8: birth date
    rows.append(batch_row(2))  # row 9: same NIK as row 2
    rows.append(batch_row(10, photo="bm90IGFuIGltYWdl"))  # row 10: photo
    return rows


async def test_a_csv_batch_queues_valid_rows_and_reports_each_invalid_row(office: InProcessRequestService) -> None:
    clerk = office.as_("clerk", scope=["18.09.01"], subject="clerk-gedong-tataan")
    response = await clerk.post(
        "/v1/batches", content=to_csv(mixed_rows()), headers={"Content-Type": "text/csv"}, params={"filename": "u.csv"}
    )
    assert response.status_code == 201, response.text
    batch = response.json()
    assert batch["status"] == "submitted"  # a kecamatan's proposal: the office approves it (test_proposal_review.py)
    assert (batch["total_rows"], batch["accepted_rows"], batch["rejected_rows"]) == (10, 5, 5)
    approved = await office.as_("operator").post(f"/v1/batches/{batch['id']}/decisions", json={"approve": "all_valid"})
    assert approved.json()["status"] == "approved"

    report = (await clerk.get(batch["report"])).json()
    found = {(e["row"], e["field"]) for e in report["errors"]}
    assert found == {(6, "rt"), (7, "village_code"), (8, "birth_date"), (9, "nik"), (10, "photo")}
    assert all(e["reason"] for e in report["errors"])

    queued = (await clerk.get("/v1/requests", params={"batch_id": batch["id"]})).json()
    assert queued["total"] == 5
    assert {r["channel"] for r in queued["items"]} == {"kecamatan_batch"}
    assert {r["status"] for r in queued["items"]} == {"queued"}
    assert (await clerk.get(f"/v1/batches/{batch['id']}")).json()["status"] == "approved"

    trail = (await office.as_("admin").get("/v1/audit", params={"action": "request.created"})).json()
    assert trail["total"] == 5
    assert {e["actor"] for e in trail["items"]} == {"clerk-gedong-tataan"}
    assert {e["after"]["batch_id"] for e in trail["items"]} == {batch["id"]}


async def test_uploading_the_same_file_again_returns_the_same_batch_and_queues_nothing_twice(
    office: InProcessRequestService,
) -> None:
    operator = office.as_("operator")
    content = to_csv(mixed_rows())
    first = await operator.post("/v1/batches", files={"file": ("usulan.csv", content, "text/csv")})
    again = await operator.post("/v1/batches", files={"file": ("usulan.csv", content, "text/csv")})
    assert first.status_code == 201
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    assert (await operator.get("/v1/requests")).json()["total"] == 5

    as_json = await operator.post("/v1/batches", json={"rows": mixed_rows()})
    assert as_json.status_code == 201
    # The same residents in another file: their NIKs already have active requests.
    assert as_json.json()["accepted_rows"] == 0
    assert as_json.json()["status"] == "rejected"
    report = (await operator.get(as_json.json()["report"], params={"limit": 500})).json()
    assert {e["field"] for e in report["errors"] if e["row"] <= 5} == {"nik"}
    json_again = await operator.post("/v1/batches", json={"rows": mixed_rows()})
    assert json_again.status_code == 200
    assert json_again.json()["id"] == as_json.json()["id"]


async def test_a_clerks_batch_rows_outside_its_kecamatan_are_refused(office: InProcessRequestService) -> None:
    clerk = office.as_("clerk", scope=["18.09.01"])
    rows = [{**batch_row(1), "row": 11}, {**batch_row(2, kecamatan="18.09.04"), "row": 12}]
    response = await clerk.post("/v1/batches", json={"kecamatan_code": "18.09.01", "rows": rows})
    batch = response.json()
    assert (batch["accepted_rows"], batch["rejected_rows"]) == (1, 1)
    report = (await clerk.get(batch["report"])).json()
    assert report["errors"] == [{"field": "kecamatan_code", "reason": "outside your scope", "row": 12}]


async def test_a_csv_with_an_unknown_column_is_refused_whole_naming_the_column(office: InProcessRequestService) -> None:
    operator = office.as_("operator")
    content = to_csv([batch_row(1, hobby="fishing")])
    response = await operator.post("/v1/batches", content=content, headers={"Content-Type": "text/csv"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "hobby"
    assert (await operator.get("/v1/batches")).json()["total"] == 0


async def test_a_batch_queues_movers_whatever_place_their_nik_was_issued_in(office: InProcessRequestService) -> None:
    operator = office.as_("operator")
    rows = [
        batch_row(1, nik=make_nik("18.01.01", serial=1)),  # Lampung Selatan, registered before the 2007 split
        batch_row(2, nik=make_nik("31.71.03", serial=2)),  # moved in from Jakarta
        batch_row(3, nik=make_nik("18.09.06", serial=3)),  # moved within Pesawaran
        batch_row(4, nik="9971011705900004"),  # no registered province and regency
    ]
    response = await operator.post("/v1/batches", json={"rows": rows})
    assert response.status_code == 201, response.text
    batch = response.json()
    assert (batch["accepted_rows"], batch["rejected_rows"]) == (3, 1)
    report = (await operator.get(batch["report"])).json()
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(4, "nik")]
