"""Coverage per kecamatan and for the regency."""

from __future__ import annotations

from services.ops.demo import coverage_figures
from tests.factories import request_body
from tests.request.conftest import InProcessRequestService


async def test_coverage_counts_printed_activated_and_backlog_beside_the_offices_figures(
    office: InProcessRequestService,
) -> None:
    operator, gateway = office.as_("operator"), office.as_("service")
    put = await operator.put("/v1/coverage/18.09.01", json={"obliged": 1200, "recorded": 1100})
    assert put.status_code == 200, put.text
    printed_id = (await operator.post("/v1/requests", json=request_body(1))).json()["id"]
    await operator.post("/v1/requests", json=request_body(2))
    await operator.post("/v1/requests", json=request_body(3, kecamatan="18.09.07"))
    claim = (await gateway.post("/v1/queue/claims", json={"job_id": "job_1", "printer_id": "p1"})).json()
    assert claim["request_id"] == printed_id
    await gateway.post("/v1/queue/claims/job_1/printed", json={"card_serial": "KTP00000001"})
    await operator.post(f"/v1/requests/{printed_id}/activate", json={"card_serial": "KTP00000001"})

    coverage = (await office.as_("clerk", scope=["18.09.01"]).get("/v1/coverage")).json()
    rows = {r["code"]: r for r in coverage["kecamatan"]}
    assert len(rows) == 11
    gedong = rows["18.09.01"]
    assert (gedong["name"], gedong["obliged"], gedong["recorded"]) == ("Gedong Tataan", 1200, 1100)
    assert (gedong["printed"], gedong["activated"], gedong["backlog"]) == (1, 1, 1)
    assert rows["18.09.07"]["backlog"] == 1
    regency = coverage["regency"]
    assert (regency["code"], regency["obliged"], regency["printed"], regency["backlog"]) == ("18.09", 1200, 1, 2)

    unknown = await operator.put("/v1/coverage/18.09.42", json={"obliged": 1, "recorded": 1})
    assert unknown.status_code == 404


async def test_coverage_counts_cards_collected_on_top_of_those_handed_over_before_the_system(
    office: InProcessRequestService,
) -> None:
    operator, gateway = office.as_("operator"), office.as_("service")
    figures = {"obliged": 1200, "recorded": 1100, "collected_before": 900}
    assert (await operator.put("/v1/coverage/18.09.01", json=figures)).status_code == 200
    collected_id = (await operator.post("/v1/requests", json=request_body(1))).json()["id"]
    activated_id = (await operator.post("/v1/requests", json=request_body(2))).json()["id"]
    for n, request_id in enumerate((collected_id, activated_id), start=1):
        claim = (await gateway.post("/v1/queue/claims", json={"job_id": f"job_{n}", "printer_id": "p1"})).json()
        assert claim["request_id"] == request_id
        serial = f"KTP0000000{n}"
        await gateway.post(f"/v1/queue/claims/job_{n}/printed", json={"card_serial": serial})
        await operator.post(f"/v1/requests/{request_id}/activate", json={"card_serial": serial})
    handed = await operator.post(f"/v1/requests/{collected_id}/handover", json={"received_by": "BUDI SANTOSO"})
    assert handed.json()["status"] == "collected"

    coverage = (await operator.get("/v1/coverage")).json()
    gedong = next(r for r in coverage["kecamatan"] if r["code"] == "18.09.01")
    assert (gedong["collected_before"], gedong["printed"], gedong["activated"], gedong["collected"]) == (
        900, 902, 902, 901
    )  # fmt: skip
    assert coverage["regency"]["collected"] == 901

    too_many = await operator.put("/v1/coverage/18.09.02", json={"obliged": 10, "recorded": 10, "collected_before": 11})
    assert too_many.status_code == 422
    assert [e["field"] for e in too_many.json()["errors"]] == ["collected_before"]


async def test_the_demo_figures_add_up_to_pesawarans_247111_recorded_and_216800_cards_received(
    office: InProcessRequestService,
) -> None:
    operator = office.as_("operator")
    for code, figures in coverage_figures().items():
        assert (await operator.put(f"/v1/coverage/{code}", json=figures)).status_code == 200
    regency = (await operator.get("/v1/coverage")).json()["regency"]
    assert (regency["obliged"], regency["recorded"], regency["collected"]) == (247_111, 247_111, 216_800)
    assert regency["printed"] >= regency["activated"] >= regency["collected"]


async def test_the_region_data_lists_pesawarans_eleven_kecamatan_and_148_desa(office: InProcessRequestService) -> None:
    regions = (await office.as_("partner").get("/v1/regions")).json()
    assert (regions["code"], regions["name"], regions["province"]) == ("18.09", "Kabupaten Pesawaran", "Lampung")
    assert len(regions["kecamatan"]) == 11
    assert sum(len(k["villages"]) for k in regions["kecamatan"]) == 148
    gedong = regions["kecamatan"][0]
    assert (gedong["code"], gedong["name"]) == ("18.09.01", "Gedong Tataan")
    assert {"code": "18.09.01.2006", "name": "Gedung Tataan"} in gedong["villages"]
