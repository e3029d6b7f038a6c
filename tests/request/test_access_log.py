"""Every look at a resident's record is on record: who, when, which request and NIK, and why
(services/request/privacy/access.py); admins read the log by request, NIK or user."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import event

from tests.factories import make_nik, request_body
from tests.request.conftest import OFFICE_NOW, InProcessRequestService

PROBLEM_JSON = "application/problem+json"
AT = OFFICE_NOW.isoformat().replace("+00:00", "Z")


async def submit(office: InProcessRequestService, serial: int) -> str:
    response = await office.as_("operator").post("/v1/requests", json=request_body(serial))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def access_log(office: InProcessRequestService, **filters: Any) -> list[dict[str, Any]]:
    response = await office.as_("admin").get("/v1/access-log", params={"limit": 500, **filters})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    assert response.json()["total"] == len(items)
    return items


def seen(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["action"], r["actor"], r["actor_role"], r["request_id"], r["nik"], r["purpose"]) for r in rows]


async def test_each_kind_of_read_is_on_record_naming_who_when_which_request_and_why(
    office: InProcessRequestService,
) -> None:
    office.pin_clock()
    nik, other_nik = make_nik(serial=1), make_nik(serial=2)
    first, second = await submit(office, 1), await submit(office, 2)
    desk = office.as_("operator", subject="ani-loket-2")
    gateway = office.as_("service", subject="gateway-1")
    admin = office.as_("admin", subject="kepala-dinas")

    assert (await desk.get(f"/v1/requests/{first}", params={"purpose": "  resident asked at the desk "})).is_success
    preview = await gateway.get(f"/v1/requests/{first}", headers={"X-Access-Purpose": "card preview by ani"})
    assert preview.is_success
    found = await desk.get("/v1/requests", params={"nik": nik}, headers={"X-Access-Purpose": "pelayanan"})
    assert [r["id"] for r in found.json()["items"]] == [first]
    listed = await admin.get("/v1/requests")
    assert {r["id"] for r in listed.json()["items"]} == {first, second}
    claim = await gateway.post("/v1/queue/claims", json={"job_id": "job_1", "printer_id": "printer-1"})
    assert claim.json()["request_id"] == first  # the claim carries the photo and signature
    assert (await admin.get(f"/v1/residents/{nik}/data", params={"purpose": "resident's request"})).is_success

    rows = await access_log(office, nik=nik)
    assert seen(rows) == [  # newest first
        ("export", "kepala-dinas", "admin", None, nik, "resident's request"),
        ("claim", "gateway-1", "service", first, nik, "printing: job job_1 on printer printer-1"),
        ("list", "kepala-dinas", "admin", first, nik, None),
        ("search", "ani-loket-2", "operator", first, nik, "pelayanan"),
        ("view", "gateway-1", "service", first, nik, "card preview by ani"),
        ("view", "ani-loket-2", "operator", first, nik, "resident asked at the desk"),
    ]
    assert {r["at"] for r in rows} == {AT}
    # the other resident was looked at once: in the admin's list
    assert seen(await access_log(office, nik=other_nik)) == [("list", "kepala-dinas", "admin", second, other_nik, None)]


async def test_a_nik_search_without_a_purpose_is_refused_naming_purpose_and_leaves_no_row(
    office: InProcessRequestService,
) -> None:
    await submit(office, 1)
    desk = office.as_("operator")
    for params, headers in (
        ({"nik": make_nik(serial=1)}, {}),
        ({"nik": make_nik(serial=1), "purpose": "   "}, {"X-Access-Purpose": " "}),
        ({"nik": make_nik(serial=1), "purpose": "x" * 201}, {}),
    ):
        response = await desk.get("/v1/requests", params=params, headers=headers)
        assert response.status_code == 422, (params, response.text)
        assert response.headers["content-type"].startswith(PROBLEM_JSON)
        assert [e["field"] for e in response.json()["errors"]] == ["purpose"], response.json()
    assert await access_log(office) == []

    # 200 characters after trimming is allowed, and a blank query parameter gives way to the header
    assert (await desk.get("/v1/requests", params={"nik": make_nik(serial=1), "purpose": f" {'x' * 200} "})).is_success
    fallback = await desk.get(
        "/v1/requests", params={"nik": make_nik(serial=1), "purpose": ""}, headers={"X-Access-Purpose": "loket"}
    )
    assert fallback.is_success
    assert [r["purpose"] for r in await access_log(office)] == ["loket", "x" * 200]


async def test_a_search_that_finds_nothing_is_still_a_look_at_that_nik(office: InProcessRequestService) -> None:
    nobody = make_nik(serial=99)
    response = await office.as_("operator").get("/v1/requests", params={"nik": nobody, "purpose": "pelayanan"})
    assert response.json()["items"] == []
    assert seen(await access_log(office)) == [("search", "operator-test", "operator", None, nobody, "pelayanan")]


async def test_what_shows_nobody_leaves_no_row(office: InProcessRequestService) -> None:
    first = await submit(office, 1)
    desk = office.as_("operator")
    assert (await desk.get("/v1/requests/no-such-request")).status_code == 404
    assert (await desk.get("/v1/requests", params={"status": "printed"})).json()["items"] == []
    assert (await desk.get(f"/v1/requests/{first}/queue")).is_success  # a position, no personal field
    other_kecamatan = office.as_("clerk", scope=["18.09.02"])
    assert (await other_kecamatan.get(f"/v1/requests/{first}")).status_code == 403
    assert await access_log(office) == []


async def test_a_list_page_is_recorded_one_row_per_request_in_one_insert(office: InProcessRequestService) -> None:
    ids = {await submit(office, n) for n in range(1, 8)}
    inserts: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO ACCESS_EVENTS"):
            inserts.append(statement)

    engine = office.app.state.db.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        page = await office.as_("operator").get("/v1/requests", params={"limit": 5, "purpose": "daily check"})
    finally:
        event.remove(engine, "before_cursor_execute", count)
    shown = [r["id"] for r in page.json()["items"]]
    assert len(shown) == 5
    assert len(inserts) == 1
    rows = await access_log(office, action="list")
    assert sorted(r["request_id"] for r in rows) == sorted(shown)
    assert set(shown) <= ids
    assert {(r["nik"] is not None, r["purpose"]) for r in rows} == {(True, "daily check")}


async def test_the_access_log_is_read_by_request_nik_user_and_action(office: InProcessRequestService) -> None:
    first, second = await submit(office, 1), await submit(office, 2)
    ani, budi = office.as_("operator", subject="ani"), office.as_("operator", subject="budi")
    await ani.get(f"/v1/requests/{first}")
    await ani.get(f"/v1/requests/{second}")
    await budi.get(f"/v1/requests/{first}")
    await budi.get("/v1/requests", params={"nik": make_nik(serial=2), "purpose": "pelayanan"})

    assert [(r["actor"], r["action"]) for r in await access_log(office, request_id=first)] == [
        ("budi", "view"),
        ("ani", "view"),
    ]
    assert [(r["actor"], r["request_id"]) for r in await access_log(office, nik=make_nik(serial=2))] == [
        ("budi", second),
        ("ani", second),
    ]
    assert [r["request_id"] for r in await access_log(office, user="ani")] == [second, first]
    assert [r["actor"] for r in await access_log(office, user="budi", action="search")] == ["budi"]
    assert await access_log(office, user="nobody") == []
    page = (await office.as_("admin").get("/v1/access-log", params={"limit": 1, "offset": 1})).json()
    assert (page["total"], len(page["items"]), page["items"][0]["actor"]) == (4, 1, "budi")

    bad = await office.as_("admin").get("/v1/access-log", params={"nik": "123"})
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["nik"]


@pytest.mark.parametrize("role", ["operator", "clerk", "partner", "service"])
async def test_only_an_admin_reads_the_access_log(office: InProcessRequestService, role: str) -> None:
    response = await office.as_(role).get("/v1/access-log")
    assert response.status_code == 403
    assert response.headers["content-type"].startswith(PROBLEM_JSON)


async def test_a_nik_in_the_access_logs_query_never_reaches_the_logs_whole(
    office: InProcessRequestService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    nik = make_nik(serial=1)
    await submit(office, 1)
    admin = office.as_("admin")
    assert (await admin.get("/v1/access-log", params={"nik": nik})).is_success
    assert (await admin.get(f"/v1/residents/{nik}/data")).is_success
    handler = next(h for h in logging.getLogger().handlers if getattr(h, "_ektp", False))
    lines = [handler.format(r) for r in caplog.records]
    assert any("nik=1809**********01" in line for line in lines)
    assert any("/v1/residents/1809**********01/data" in line for line in lines)
    assert not any(nik in line for line in lines)
