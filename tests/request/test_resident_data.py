"""A resident's right of access (UU 27/2022 PDP): ``GET /v1/residents/{nik}/data`` gives everything held about
one NIK, as JSON or a printable page, and nothing about anyone else (services/request/privacy/resident_data.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import update

from services.request.models import PrintRequest
from tests.factories import batch_row, make_nik, request_body
from tests.request.conftest import InProcessRequestService

PROBLEM_JSON = "application/problem+json"
SCRIPT = "<script>alert('pwned')</script>"
NIK_A = make_nik(sex="F", serial=1)  # Siti, the resident who asks
NIK_B = make_nik(sex="M", serial=2)  # Budi, her neighbour in the same kecamatan batch


async def two_residents(office: InProcessRequestService) -> dict[str, Any]:
    """Siti and Budi in one kecamatan batch, both approved and printed; Siti's card replaced; both looked at.
    Returns the ids, serials and jobs of each."""
    clerk = office.as_("clerk", scope=["18.09.01"], subject="clerk-gedong-tataan")
    operator, gateway = office.as_("operator", subject="ani-loket-2"), office.as_("service", subject="gateway-1")
    rows = [batch_row(1, sex="F", name="SITI RAHMAWATI"), batch_row(2, sex="M", name="BUDI SANTOSO")]
    batch = await clerk.post("/v1/batches", json={"rows": rows}, params={"filename": "usulan-gedong-tataan.json"})
    assert batch.status_code == 201, batch.text
    decided = await operator.post(f"/v1/batches/{batch.json()['id']}/decisions", json={"approve": "all_valid"})
    assert decided.status_code == 200, decided.text

    held: dict[str, Any] = {"batch": batch.json()["id"]}
    for n in (1, 2):
        claim = await gateway.post("/v1/queue/claims", json={"job_id": f"job_{n}", "printer_id": "printer-1"})
        assert claim.status_code == 201, claim.text
        who = "a" if claim.json()["card"]["nik"] == NIK_A else "b"
        held[f"request_{who}"], held[f"job_{who}"], held[f"serial_{who}"] = (
            claim.json()["request_id"], f"job_{n}", f"KTP0000000{n}"
        )  # fmt: skip
        printed = await gateway.post(f"/v1/queue/claims/job_{n}/printed", json={"card_serial": f"KTP0000000{n}"})
        assert printed.status_code == 200, printed.text
    replacement = await operator.post(
        f"/v1/requests/{held['request_a']}/replacements", json={"reason": "damaged", "note": f"cracked {SCRIPT}"}
    )
    assert replacement.status_code == 201, replacement.text
    held["replacement_a"] = replacement.json()["id"]
    for request_id in (held["request_a"], held["request_b"]):
        assert (await operator.get(f"/v1/requests/{request_id}", params={"purpose": "pelayanan"})).is_success
    # A name from before the API's checks (an old import): the page must show it, not run it.
    async with office.app.state.db.sessions() as session:
        await session.execute(
            update(PrintRequest).where(PrintRequest.id == held["replacement_a"]).values(name=f"SITI {SCRIPT}")
        )
        await session.commit()
    return held


def nothing_of_budi(text: str, held: dict[str, Any]) -> None:
    for trace in (NIK_B, "BUDI", held["request_b"], held["job_b"], held["serial_b"]):
        assert trace not in text, trace


async def test_the_document_lists_everything_held_about_the_nik_and_nothing_about_anyone_else(
    office: InProcessRequestService,
) -> None:
    held = await two_residents(office)
    response = await office.as_("admin", subject="kepala-dinas").get(
        f"/v1/residents/{NIK_A}/data", params={"purpose": "permintaan subjek data"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    document = response.json()
    nothing_of_budi(response.text, held)

    assert (document["nik"], document["generated_by"]) == (NIK_A, "kepala-dinas")
    requests = {r["id"]: r for r in document["requests"]}
    assert set(requests) == {held["request_a"], held["replacement_a"]}
    old, new = requests[held["request_a"]], requests[held["replacement_a"]]
    assert (old["status"], old["card_serial"], old["replaced_by"]) == ("replaced", held["serial_a"], new["id"])
    assert (new["status"], new["replaces"], new["name"]) == ("queued", old["id"], f"SITI {SCRIPT}")
    assert not {"photo", "signature"} & set(old)  # the images' bytes stay out; what is held of them is said
    assert old["images"] == {
        "photo_held": True,
        "signature_held": True,
        "sealed": old["data_key_id"] is not None,
        "data_key_id": old["data_key_id"],
        "purged_at": None,
    }
    assert [(c["serial"], c["request_id"]) for c in document["cards"]] == [(held["serial_a"], old["id"])]
    [batch] = document["batches"]
    assert (batch["batch_id"], batch["request_id"], batch["kecamatan"], batch["row"]) == (
        held["batch"], old["id"], "18.09.01", old["batch_row"]
    )  # fmt: skip
    assert batch["filename"] == "usulan-gedong-tataan.json"
    assert [(d["request_id"], d["decision"]) for d in batch["decisions"]] == [(old["id"], "approve")]
    assert [j["job_id"] for j in document["print_jobs"]] == [held["job_a"]]
    objects = {a["object_id"] for a in document["audit"]}
    assert (
        {old["id"], new["id"], held["serial_a"]} <= objects <= {old["id"], new["id"], held["serial_a"], held["job_a"]}
    )
    assert {"queue.claimed", "queue.printed"} <= {a["action"] for a in document["audit"]}
    looks = [(a["action"], a["request_id"]) for a in document["access"]]
    assert looks == [("view", old["id"]), ("claim", old["id"])]  # newest first; this export is in the next one

    again = (await office.as_("admin").get(f"/v1/residents/{NIK_A}/data")).json()
    assert again["access"][0] == {**again["access"][0], "action": "export", "nik": NIK_A, "request_id": None}
    assert again["access"][0]["purpose"] == "permintaan subjek data"


async def test_the_printable_page_escapes_every_value_and_holds_nobody_else(office: InProcessRequestService) -> None:
    held = await two_residents(office)
    response = await office.as_("admin").get(f"/v1/residents/{NIK_A}/data", params={"format": "html"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in response.headers["content-security-policy"]
    page = response.text
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(&#x27;pwned&#x27;)&lt;/script&gt;" in page  # the name and the replacement's note
    assert page.count("&lt;script&gt;") >= 2
    assert NIK_A in page
    assert held["request_a"] in page
    assert held["replacement_a"] in page
    assert "http" not in page  # no external asset
    nothing_of_budi(page, held)


async def test_a_nik_with_nothing_held_gets_an_empty_document_not_an_error(office: InProcessRequestService) -> None:
    await office.as_("operator").post("/v1/requests", json=request_body(1))
    nobody = make_nik(serial=77)
    response = await office.as_("admin").get(f"/v1/residents/{nobody}/data")
    assert response.status_code == 200, response.text
    document = response.json()
    lists = {k: v for k, v in document.items() if isinstance(v, list)}
    assert set(lists) == {"requests", "cards", "batches", "print_jobs", "audit", "access", "stored_answers"}
    assert all(v == [] for v in lists.values()), lists
    # the page, asked next, holds one thing: the record of that first export
    page = await office.as_("admin").get(f"/v1/residents/{nobody}/data", params={"format": "html"})
    assert page.text.count("Tidak ada data yang disimpan") == len(lists) - 1
    assert "(Who looked at the data)</small>: 1</h2>" in page.text


async def test_a_kept_answer_to_a_retried_submission_is_listed_without_its_body(
    office: InProcessRequestService,
) -> None:
    desk = office.as_("operator", subject="ani-loket-2")
    created = await desk.post("/v1/requests", json=request_body(1), headers={"Idempotency-Key": "form-1"})
    assert created.status_code == 201, created.text
    document = (await office.as_("admin").get(f"/v1/residents/{make_nik(serial=1)}/data")).json()
    [answer] = document["stored_answers"]
    assert (answer["key"], answer["status_code"]) == ("form-1", 201)
    assert "ani-loket-2" in answer["owner"]
    assert "body" not in answer


@pytest.mark.parametrize("nik", ["123", "18090117059000AB", "18090117059000011"])
async def test_a_nik_that_is_not_16_digits_is_refused_naming_nik(office: InProcessRequestService, nik: str) -> None:
    response = await office.as_("admin").get(f"/v1/residents/{nik}/data")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert [e["field"] for e in response.json()["errors"]] == ["nik"]


@pytest.mark.parametrize("role", ["operator", "clerk", "partner", "service"])
async def test_only_an_admin_exports_a_residents_data(office: InProcessRequestService, role: str) -> None:
    response = await office.as_(role).get(f"/v1/residents/{NIK_A}/data")
    assert response.status_code == 403
    assert json.loads(response.text)["status"] == 403
