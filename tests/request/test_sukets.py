"""The Suket (surat keterangan pengganti KTP-el): issued for a resident waiting for the card, printed as an A4 PDF
whose QR code opens the public verification page, withdrawn at the card's handover or by an operator, expired by
date; its register, export and the counts the queue and coverage show (docs/architecture.md, "Suket")."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from typing import Any

import httpx
import zxingcpp
from pypdf import PdfReader
from sqlalchemy import update

from services.request.models import PrintRequest
from tests.factories import request_body
from tests.request.conftest import OFFICE_NOW, OFFICE_TODAY, InProcessRequestService

DAY = dt.timedelta(days=1)
VALID_DAYS = 183  # the default suket_valid_days
VERIFICATION_KEYS = {"status", "number", "name", "issued_on", "valid_until"}


async def submit(office: InProcessRequestService, serial: int, **fields: Any) -> str:
    response = await office.as_("operator").post("/v1/requests", json=request_body(serial, **fields))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def issue(office: InProcessRequestService, request_id: str, **kwargs: Any) -> httpx.Response:
    return await office.as_("operator").post(f"/v1/requests/{request_id}/suket", **kwargs)


async def issued(office: InProcessRequestService, request_id: str) -> dict[str, Any]:
    response = await issue(office, request_id)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def printed(office: InProcessRequestService, request_id: str, job: str, serial: str) -> None:
    """The queue holds ``request_id`` first: the gateway claims it and reports it printed as ``serial``."""
    gateway = office.as_("service")
    claim = await gateway.post("/v1/queue/claims", json={"job_id": job, "printer_id": "printer-1"})
    assert claim.json()["request_id"] == request_id, claim.text
    done = await gateway.post(f"/v1/queue/claims/{job}/printed", json={"card_serial": serial})
    assert done.json()["status"] == "printed", done.text


async def handed_over(office: InProcessRequestService, request_id: str, job: str, serial: str) -> None:
    operator = office.as_("operator")
    await printed(office, request_id, job, serial)
    assert (await operator.post(f"/v1/requests/{request_id}/activate", json={"card_serial": serial})).is_success
    handover = await operator.post(f"/v1/requests/{request_id}/handover", json={"received_by": "BUDI SANTOSO"})
    assert handover.json()["status"] == "collected", handover.text


async def verify(office: InProcessRequestService, url: str, **kwargs: Any) -> httpx.Response:
    """The verification page as anyone opens it: no token."""
    return await office.anonymous().get(url.removeprefix("http://testserver"), **kwargs)


def pdf_text_and_codes(body: bytes) -> tuple[str, list[str], int]:
    """The PDF's text, the QR codes its images hold, and how many images it has."""
    reader = PdfReader(io.BytesIO(body))
    assert len(reader.pages) == 1
    page = reader.pages[0]
    width, height = float(page.mediabox.width), float(page.mediabox.height)
    assert (round(width), round(height)) == (595, 842)  # A4
    codes = [
        found.text
        for image in page.images
        for found in zxingcpp.read_barcodes(image.image)
        if found.format == zxingcpp.BarcodeFormat.QRCode
    ]
    return page.extract_text(), codes, len(page.images)


def problem_kind(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return str(response.json()["type"]).rsplit("/", 1)[-1]


async def test_a_suket_is_issued_printed_with_its_qr_code_verified_and_withdrawn_at_the_handover(
    office: InProcessRequestService,
) -> None:
    office.pin_clock()
    operator, admin = office.as_("operator"), office.as_("admin")
    request_id = await submit(office, 1)
    nik = request_body(1)["nik"]

    response = await issue(office, request_id)
    assert response.status_code == 201, response.text
    suket = response.json()
    assert response.headers["location"] == f"/v1/sukets/{suket['id']}"
    assert suket["number"] == "474.11/0001/SKET/18.09/2026"
    assert (suket["status"], suket["request_id"], suket["kecamatan_code"]) == ("valid", request_id, "18.09.01")
    assert suket["issued_on"] == OFFICE_TODAY.isoformat()  # the office's date (WIB), a day after UTC's
    assert suket["valid_until"] == (OFFICE_TODAY + VALID_DAYS * DAY).isoformat()
    assert suket["issued_by"] == "operator-test"
    code = suket["verification_url"].rsplit("/", 1)[-1]
    assert suket["verification_url"] == f"http://testserver/v1/sukets/verify/{code}"
    assert len(code) >= 22
    assert re.fullmatch(r"[A-Za-z0-9_-]+", code)
    assert (await operator.get(f"/v1/sukets/{suket['id']}")).json() == suket
    shown = (await operator.get(f"/v1/requests/{request_id}")).json()["suket"]
    assert shown == {
        "id": suket["id"],
        "number": suket["number"],
        "status": "valid",
        "valid_until": suket["valid_until"],
    }

    # The PDF: the office's header, the number, the resident as on the card, the photo, dates in WIB, the QR code
    document = await operator.get(suket["pdf"])
    assert document.status_code == 200, document.text
    assert document.headers["content-type"] == "application/pdf"
    text, codes, images = pdf_text_and_codes(document.content)
    for expected in (
        "PEMERINTAH KABUPATEN PESAWARAN",
        "DINAS KEPENDUDUKAN DAN PENCATATAN SIPIL",
        "SURAT KETERANGAN PENGGANTI KTP-EL",
        "474.11/0001/SKET/18.09/2026",
        nik,
        "BUDI SANTOSO",
        "PESAWARAN, 17-05-1990",
        "LAKI-LAKI",
        "JL. RAYA GEDONG TATAAN NO. 5",
        "001/002",
        "GEDONG TATAAN",
        "PETANI/PEKEBUN",
        "5 November 2026 pukul 03.00 WIB",  # 20:00 UTC on the 4th
        f"{(OFFICE_TODAY + VALID_DAYS * DAY).day} Mei 2027",
    ):
        assert expected in text, (expected, text)
    assert codes == [suket["verification_url"]]
    assert images == 2  # the photo and the QR code
    looked = (await admin.get("/v1/access-log", params={"nik": nik})).json()["items"]
    assert [(row["action"], row["purpose"]) for row in looked][:1] == [("view", f"Suket {suket['number']}")]

    # Anyone verifies it by the QR code: no token, and nothing but the status, number, masked name and dates
    verified = await verify(office, codes[0])
    assert verified.status_code == 200, verified.text
    assert verified.json() == {
        "status": "valid",
        "number": "474.11/0001/SKET/18.09/2026",
        "name": "B*** S******",
        "issued_on": OFFICE_TODAY.isoformat(),
        "valid_until": suket["valid_until"],
    }
    assert set(verified.json()) == VERIFICATION_KEYS
    assert verified.headers["cache-control"] == "no-store"
    page = await verify(office, codes[0], headers={"Accept": "text/html"})
    assert page.headers["content-type"].startswith("text/html")
    assert "BERLAKU" in page.text
    assert "B*** S******" in page.text
    assert nik not in page.text
    assert (await verify(office, "/v1/sukets/verify/" + "x" * 32)).status_code == 404

    # One valid Suket for the resident: a second is refused, naming the first
    second = await issue(office, request_id)
    assert second.status_code == 409
    assert problem_kind(second) == "suket-exists"
    assert second.json()["existing_suket_id"] == suket["id"]
    assert suket["number"] in second.json()["detail"]

    # Printed, activated, handed over: withdrawn in the handover's transaction
    await handed_over(office, request_id, "job_1", "KTP00000001")
    after = await verify(office, codes[0])
    assert (after.json()["status"], set(after.json())) == ("withdrawn", VERIFICATION_KEYS)
    withdrawn = (await operator.get(f"/v1/sukets/{suket['id']}")).json()
    assert withdrawn["status"] == "withdrawn"
    assert withdrawn["withdrawal_reason"].startswith("KTP-el diserahkan")
    again = await operator.get(suket["pdf"])
    assert (again.status_code, problem_kind(again)) == (409, "suket-not-valid")
    refused = await issue(office, request_id)
    assert (refused.status_code, problem_kind(refused)) == (409, "suket-not-issuable")
    assert "collected" in refused.json()["detail"]

    trail = (await admin.get("/v1/audit", params={"object_type": "suket"})).json()["items"]
    assert [row["action"] for row in reversed(trail)] == ["suket.issued", "suket.withdrawn"]
    assert all(code not in str(row) for row in trail)  # the audit trail never holds the code


async def test_a_suket_is_refused_once_the_card_is_printed_and_for_a_cancelled_request(
    office: InProcessRequestService,
) -> None:
    card = await submit(office, 1)
    await printed(office, card, "job_1", "KTP00000001")
    response = await issue(office, card)
    assert (response.status_code, problem_kind(response)) == (409, "suket-not-issuable")
    assert "printed" in response.json()["detail"]
    assert response.json()["request_status"] == "printed"

    cancelled = await submit(office, 2)
    assert (await office.as_("operator").post(f"/v1/requests/{cancelled}/cancel")).status_code == 200
    response = await issue(office, cancelled)
    assert (response.status_code, problem_kind(response)) == (409, "suket-not-issuable")
    assert "cancelled" in response.json()["detail"]
    assert (await issue(office, "no-such-request")).status_code == 404


async def test_a_clerk_or_partner_may_not_issue_and_the_issue_replays_by_idempotency_key(
    office: InProcessRequestService,
) -> None:
    request_id = await submit(office, 1)
    for role in ("clerk", "partner", "service"):
        assert (await office.as_(role).post(f"/v1/requests/{request_id}/suket")).status_code == 403, role
    first = await issue(office, request_id, headers={"Idempotency-Key": "suket-1"})
    replay = await issue(office, request_id, headers={"Idempotency-Key": "suket-1"})
    assert (first.status_code, replay.status_code) == (201, 201)
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.json() == first.json()
    total = (await office.as_("operator").get("/v1/sukets")).json()["total"]
    assert total == 1


async def test_a_suket_expires_after_its_validity_and_a_new_one_may_then_be_issued(
    office: InProcessRequestService,
) -> None:
    office.pin_clock()
    request_id = await submit(office, 1)
    suket = await issued(office, request_id)
    office.pin_clock(OFFICE_NOW + VALID_DAYS * DAY)  # its last day
    assert (await verify(office, suket["verification_url"])).json()["status"] == "valid"
    office.pin_clock(OFFICE_NOW + (VALID_DAYS + 1) * DAY)
    expired = await verify(office, suket["verification_url"])
    assert (expired.json()["status"], set(expired.json())) == ("expired", VERIFICATION_KEYS)
    operator = office.as_("operator")
    assert [s["id"] for s in (await operator.get("/v1/sukets", params={"status": "expired"})).json()["items"]] == [
        suket["id"]
    ]
    assert (await operator.get("/v1/sukets", params={"status": "valid"})).json()["total"] == 0
    response = await operator.get(suket["pdf"])
    assert (response.status_code, problem_kind(response)) == (409, "suket-not-valid")
    cancel = await operator.post(f"/v1/sukets/{suket['id']}/cancel", json={"reason": "late"})
    assert (cancel.status_code, problem_kind(cancel)) == (409, "suket-not-valid")

    renewed = await issued(office, request_id)  # the resident still waits: a new one, numbered in its year
    assert renewed["number"] == "474.11/0001/SKET/18.09/2027"
    assert (await verify(office, suket["verification_url"])).json()["status"] == "expired"
    assert (await verify(office, renewed["verification_url"])).json()["status"] == "valid"


async def test_an_operator_withdraws_a_suket_with_a_reason_and_a_cancelled_request_withdraws_its_own(
    office: InProcessRequestService,
) -> None:
    operator = office.as_("operator")
    request_id = await submit(office, 1)
    suket = await issued(office, request_id)
    url = f"/v1/sukets/{suket['id']}/cancel"
    assert (await operator.post(url, json={})).status_code == 422  # a reason is required
    assert (await office.as_("clerk").post(url, json={"reason": "x"})).status_code == 403
    response = await operator.post(url, json={"reason": "issued on the wrong request"})
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["withdrawal_reason"]) == (
        "withdrawn",
        "issued on the wrong request",
    )
    assert (await verify(office, suket["verification_url"])).json()["status"] == "withdrawn"
    again = await operator.post(url, json={"reason": "twice"})
    assert (again.status_code, problem_kind(again)) == (409, "suket-not-valid")
    assert (await operator.post("/v1/sukets/nope/cancel", json={"reason": "x"})).status_code == 404

    another = await issued(office, request_id)  # the withdrawn one no longer stands in the way
    assert (await operator.post(f"/v1/requests/{request_id}/cancel", json={"note": "moved away"})).status_code == 200
    assert (await verify(office, another["verification_url"])).json()["status"] == "withdrawn"


async def test_a_suket_prints_without_the_photo_once_the_images_are_purged(office: InProcessRequestService) -> None:
    request_id = await submit(office, 1)
    suket = await issued(office, request_id)
    async with office.app.state.db.transaction() as session:
        await session.execute(
            update(PrintRequest)
            .where(PrintRequest.id == request_id)
            .values(photo=b"", signature=b"", data_key_id=None, images_purged_at=OFFICE_NOW)
        )
    document = await office.as_("admin").get(suket["pdf"])
    assert document.status_code == 200, document.text
    text, codes, images = pdf_text_and_codes(document.content)
    assert (codes, images) == ([suket["verification_url"]], 1)  # the QR code alone
    assert "BUDI SANTOSO" in text
    assert "PAS FOTO" in text


async def test_the_register_lists_filters_and_exports_and_the_queue_and_coverage_count_the_waiting(
    office: InProcessRequestService,
) -> None:
    office.pin_clock()
    operator = office.as_("operator")
    gedong = [await submit(office, n) for n in (1, 2, 3)]
    katon = await submit(office, 4, kecamatan="18.09.02")
    sukets = [await issued(office, request_id) for request_id in [*gedong, katon]]
    assert [s["number"] for s in sukets] == [f"474.11/{n:04d}/SKET/18.09/2026" for n in (1, 2, 3, 4)]
    withdrawn = await operator.post(f"/v1/sukets/{sukets[2]['id']}/cancel", json={"reason": "resident moved"})
    assert withdrawn.status_code == 200

    def numbers(page: dict[str, Any]) -> list[str]:
        return [s["number"][7:11] for s in page["items"]]

    everything = (await operator.get("/v1/sukets")).json()
    assert (everything["total"], numbers(everything)) == (4, ["0004", "0003", "0002", "0001"])  # newest first
    paged = (await operator.get("/v1/sukets", params={"limit": 2, "offset": 1})).json()
    assert (paged["total"], numbers(paged), paged["limit"], paged["offset"]) == (4, ["0003", "0002"], 2, 1)
    valid = (await operator.get("/v1/sukets", params={"status": "valid"})).json()
    assert numbers(valid) == ["0004", "0002", "0001"]
    assert numbers((await operator.get("/v1/sukets", params={"status": "withdrawn"})).json()) == ["0003"]
    assert numbers((await operator.get("/v1/sukets", params={"kecamatan": "18.09.02"})).json()) == ["0004"]
    today = OFFICE_TODAY.isoformat()
    tomorrow = (OFFICE_TODAY + DAY).isoformat()
    assert (await operator.get("/v1/sukets", params={"issued_from": today, "issued_to": today})).json()["total"] == 4
    assert (await operator.get("/v1/sukets", params={"issued_from": tomorrow})).json()["total"] == 0
    assert (await operator.get("/v1/sukets", params={"kecamatan": "18.9.2"})).status_code == 422
    for role in ("clerk", "partner", "service"):
        assert (await office.as_(role).get("/v1/sukets")).status_code == 403, role

    export = await operator.get("/v1/sukets/export.csv", params={"kecamatan": "18.09.01"})
    assert export.status_code == 200, export.text
    assert export.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert [(r["number"][7:11], r["status"]) for r in rows] == [("0001", "valid"), ("0002", "valid"),
                                                                 ("0003", "withdrawn")]  # fmt: skip
    assert rows[2]["withdrawal_reason"] == "resident moved"
    assert rows[0]["issued_on"] == today
    assert rows[0]["request_id"] == gedong[0]
    assert "verification" not in export.text
    assert "nik" not in rows[0]

    stats = (await operator.get("/v1/queue/stats")).json()
    assert stats["with_suket"] == 3
    coverage = (await operator.get("/v1/coverage")).json()
    by_code = {row["code"]: row["with_suket"] for row in coverage["kecamatan"]}
    assert (by_code["18.09.01"], by_code["18.09.02"], coverage["regency"]["with_suket"]) == (2, 1, 3)
    office.pin_clock(OFFICE_NOW + (VALID_DAYS + 1) * DAY)  # expired: no longer counted
    assert (await operator.get("/v1/queue/stats")).json()["with_suket"] == 0
