"""Mobile recording visits (e-Mobile KTP): the office's figures per desa, imported whole or not at all; the visit
plan (ranked by gap weighted for remoteness, days within the unit's capacity, neighbours together, the same
every time); a visit's outcome raising its desa's and kecamatan's recorded figures; and the print requests it
brings back, channel ``mobile_unit`` and naming the visit."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import httpx

from services.common.office_hours import OfficeCalendar, OfficeHoursSettings
from services.request.mobile import plan as planning
from tests.factories import CATALOG, batch_row, request_body, to_csv
from tests.request.conftest import CLOSED, OFFICE_TODAY, InProcessRequestService

CSV = {"Content-Type": "text/csv"}
ALL_DESA = sorted(CATALOG.villages)


def figures_csv(rows: list[dict[str, Any]]) -> bytes:
    return to_csv(rows)


def made_up(index: int, code: str) -> dict[str, Any]:
    """Figures for Pesawaran's desa number ``index``: 500 … 1400 obliged, a gap of 0 … 299."""
    obliged = 500 + (index * 37) % 900
    return {"village_code": code, "obliged": obliged, "recorded": obliged - (index * 53) % 300}


def working_days_after(day: dt.date, count: int) -> list[dt.date]:
    found = []
    while len(found) < count:
        day += dt.timedelta(days=1)
        if day.weekday() < 5 and day not in CLOSED:
            found.append(day)
    return found


async def put_figures(client: httpx.AsyncClient, rows: list[dict[str, Any]]) -> httpx.Response:
    return await client.put("/v1/desa-figures", json={"rows": rows})


async def plan(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    answer = await client.get("/v1/mobile-visits/plan", params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


# --------------------------------------------------------------------------------------------- desa figures
async def test_figures_for_every_desa_import_from_csv_and_list_with_gap_and_waiting(
    office: InProcessRequestService,
) -> None:
    operator = office.as_("operator")
    rows = [made_up(i, code) for i, code in enumerate(ALL_DESA)]
    rows[0] |= {"lat": -5.3912, "lon": 105.0713}
    imported = await operator.put("/v1/desa-figures", content=figures_csv(rows), headers=CSV)
    assert imported.status_code == 200, imported.text
    assert imported.json()["total"] == len(ALL_DESA) == 148

    first_desa = CATALOG.kecamatan["18.09.01"].villages[0]  # where request_body's residents live
    for serial in (1, 2):
        assert (await operator.post("/v1/requests", json=request_body(serial))).status_code == 201
    listed = (await office.as_("clerk").get("/v1/desa-figures", params={"kecamatan": "18.09.01"})).json()
    assert listed["total"] == len(CATALOG.kecamatan["18.09.01"].villages)
    by_code = {row["village_code"]: row for row in listed["items"]}
    first = by_code[first_desa]
    assert (first["name"], first["kecamatan"]) == (CATALOG.villages[first_desa].name, "Gedong Tataan")
    assert first["gap"] == first["obliged"] - first["recorded"] == (0 * 53) % 300
    assert (first["waiting"], listed["waiting"]) == (2, 2)
    assert first["distance_km"] == 1.3  # the office at -5.3986, 105.0800
    assert all(row["lat"] is None and row["distance_km"] is None for row in listed["items"][1:])
    assert listed["gap"] == sum(row["gap"] for row in listed["items"])

    # JSON rows replace the desa they name; the others keep theirs.
    again = await put_figures(operator, [{"village_code": first_desa, "obliged": 900, "recorded": 100}])
    assert again.status_code == 200, again.text
    changed = {row["village_code"]: row for row in again.json()["items"]}
    assert (changed[first_desa]["gap"], changed[first_desa]["lat"]) == (800, None)
    assert changed[ALL_DESA[1]]["obliged"] == rows[1]["obliged"]
    assert (await operator.get("/v1/desa-figures", params={"kecamatan": "18.09.42"})).status_code == 422


async def test_an_unknown_desa_refuses_the_whole_import_naming_its_row_and_field(
    office: InProcessRequestService,
) -> None:
    admin, operator = office.as_("admin"), office.as_("operator")
    good = [made_up(i, code) for i, code in enumerate(ALL_DESA[:3])]
    assert (await put_figures(operator, good)).status_code == 200
    before = (await operator.get("/v1/desa-figures")).json()
    audit_rows = (await admin.get("/v1/audit")).json()["total"]

    rows = [
        {"village_code": ALL_DESA[0], "obliged": 1, "recorded": 1},  # would change a desa: must not
        {"village_code": "18.09.01.2999", "obliged": 10, "recorded": 5},  # no such desa in Gedong Tataan
        {"village_code": "18.01.01.2001", "obliged": 10, "recorded": 5},  # another regency's
        {"village_code": ALL_DESA[5], "obliged": "many", "recorded": 5},
        {"village_code": ALL_DESA[6], "obliged": 10, "recorded": 5, "lat": -5.5},
        {"village_code": ALL_DESA[0], "obliged": 10, "recorded": 5},
    ]
    for refused in (
        await put_figures(operator, rows),
        await operator.put("/v1/desa-figures", content=figures_csv(rows), headers=CSV),
    ):
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        errors = {(e["row"], e["field"]) for e in problem["errors"]}
        assert errors == {(2, "village_code"), (3, "village_code"), (4, "obliged"), (5, "lon"), (6, "village_code")}
        assert problem["detail"].startswith("row 2, village_code: 18.09.01.2999 is not a desa of Kabupaten Pesawaran")
        assert "nothing was imported" in problem["detail"]
    assert (await operator.get("/v1/desa-figures")).json() == before
    assert (await admin.get("/v1/audit")).json()["total"] == audit_rows

    header = await operator.put("/v1/desa-figures", content=b"desa,obliged\n18.09.01.2001,5\n", headers=CSV)
    assert (header.status_code, header.json()["errors"][0]["field"]) == (422, "header")
    png = await operator.put("/v1/desa-figures", content=b"x", headers={"Content-Type": "image/png"})
    assert png.status_code == 422
    clerk = await office.as_("clerk").put("/v1/desa-figures", json={"rows": good})
    assert clerk.status_code == 403


# ----------------------------------------------------------------------------------------------------- plan
async def test_the_plan_ranks_by_gap_keeps_days_within_per_day_and_puts_a_kecamatans_desa_together(
    office: InProcessRequestService,
) -> None:
    """Without coordinates: neighbours are the first desa's kecamatan. per_day 100: Way Lima's desa of 250 takes
    a day alone; Negeri Katon's 80 takes its 15 (its 30 does not fit); Tegineneng's 70 its 25."""
    office.pin_clock()  # Thursday 5 November 2026 in the office
    operator = office.as_("operator")
    katon, tegineneng, way_lima = (CATALOG.kecamatan[k].villages for k in ("18.09.02", "18.09.03", "18.09.04"))
    gaps = {katon[0]: 80, katon[1]: 15, katon[2]: 30, tegineneng[0]: 70, tegineneng[1]: 25, way_lima[0]: 250}
    rows = [{"village_code": code, "obliged": 1000, "recorded": 1000 - gap} for code, gap in gaps.items()]
    rows.append({"village_code": way_lima[1], "obliged": 400, "recorded": 410})  # recorded them all: no gap
    assert (await put_figures(operator, rows)).status_code == 200

    proposed = await plan(operator, days=3, per_day=100)
    days = [[d["code"] for d in day["desa"]] for day in proposed["days"]]
    assert days == [[way_lima[0]], [katon[0], katon[1]], [tegineneng[0], tegineneng[1]]]
    assert [day["expected_residents"] for day in proposed["days"]] == [250, 95, 95]
    assert [day["over_capacity"] for day in proposed["days"]] == [True, False, False]
    assert [dt.date.fromisoformat(day["date"]) for day in proposed["days"]] == working_days_after(OFFICE_TODAY, 3)
    assert (proposed["unplanned_desa"], proposed["unplanned_residents"]) == (1, 30)  # Negeri Katon's 30: day 4
    first = proposed["days"][1]["desa"][0]
    assert (first["name"], first["kecamatan"], first["gap"], first["distance_km"]) == (
        CATALOG.villages[katon[0]].name, "Negeri Katon", 80, None
    )  # fmt: skip

    # The same figures give the same plan, however they were imported.
    assert await plan(operator, days=3, per_day=100) == proposed
    assert (await put_figures(operator, list(reversed(rows)))).status_code == 200
    assert await plan(operator, days=3, per_day=100) == proposed
    later = await plan(operator, days=4, per_day=100, start="2026-11-07")  # a Saturday: from Monday on
    assert [day["date"] for day in later["days"]] == ["2026-11-09", "2026-11-10", "2026-11-11", "2026-11-12"]
    assert (later["unplanned_desa"], later["days"][3]["desa"][0]["code"]) == (0, katon[2])


async def test_the_plan_prefers_remote_desa_and_groups_neighbours_by_distance(office: InProcessRequestService) -> None:
    """Punduh Pidada's desa are about 48 km from the office: a gap of 60 there ranks above 100 beside the office.
    Its neighbour 0.8 km away joins its day; one 4 km away with a gap of 50 would pass per_day: its own day."""
    operator = office.as_("operator")
    pidada, gedong = CATALOG.kecamatan["18.09.06"].villages, CATALOG.kecamatan["18.09.01"].villages
    rows = [
        {"village_code": pidada[0], "obliged": 900, "recorded": 840, "lat": -5.8000, "lon": 105.2500},  # A: 60
        {"village_code": pidada[1], "obliged": 900, "recorded": 870, "lat": -5.8050, "lon": 105.2550},  # B: 30
        {"village_code": pidada[2], "obliged": 900, "recorded": 850, "lat": -5.8300, "lon": 105.2700},  # C: 50
        {"village_code": gedong[0], "obliged": 900, "recorded": 800, "lat": -5.4000, "lon": 105.0900},  # D: 100
        {"village_code": gedong[1], "obliged": 900, "recorded": 860, "lat": -5.4100, "lon": 105.0700},  # E: 40
    ]
    assert (await put_figures(operator, rows)).status_code == 200
    proposed = await plan(operator, days=10, per_day=100)
    days = [[d["code"] for d in day["desa"]] for day in proposed["days"]]
    assert days == [[pidada[0], pidada[1]], [pidada[2]], [gedong[0]], [gedong[1]]]
    assert [day["expected_residents"] for day in proposed["days"]] == [90, 50, 100, 40]
    assert all(day["expected_residents"] <= 100 for day in proposed["days"])
    assert [d["distance_km"] for d in proposed["days"][0]["desa"]] == [48.4, 49.2]
    assert proposed["unplanned_desa"] == 0

    # With the remoteness weight small, the gap alone ranks: the office's neighbour first.
    office.app.state.context.settings.mobile_remote_km = 10_000
    assert [d["code"] for d in (await plan(operator, days=1, per_day=100))["days"][0]["desa"]] == [gedong[0]]


async def test_over_the_whole_regency_the_plan_keeps_its_rule_and_is_the_same_every_time(
    office: InProcessRequestService,
) -> None:
    operator = office.as_("operator")
    rows = [made_up(i, code) for i, code in enumerate(ALL_DESA)]
    assert (await put_figures(operator, rows)).status_code == 200
    gaps = {row["village_code"]: row["obliged"] - row["recorded"] for row in rows}
    proposed = await plan(operator, days=40, per_day=250)
    firsts = [day["desa"][0]["gap"] for day in proposed["days"]]
    assert firsts[0] == max(gaps.values())
    assert firsts == sorted(firsts, reverse=True)  # each day starts from the largest gap left
    for day in proposed["days"]:
        alone = len(day["desa"]) == 1 and day["desa"][0]["gap"] > 250  # a desa over per_day: a day by itself
        assert day["expected_residents"] <= 250 or alone
        assert day["over_capacity"] == alone
        assert {d["kecamatan_code"] for d in day["desa"]} == {day["desa"][0]["kecamatan_code"]}
    planned = [d["code"] for day in proposed["days"] for d in day["desa"]]
    assert len(planned) == len(set(planned))
    assert await plan(operator, days=40, per_day=250) == proposed


def test_the_plan_is_a_function_of_the_figures_alone_not_their_order() -> None:
    rules = planning.PlanRules(office=(-5.3986, 105.08), per_day=120, remote_km=25, neighbour_km=10)
    rng = random.Random(16)
    candidates = [
        planning.Candidate(code=code, name=code, kecamatan_code=code[:8], kecamatan="", gap=rng.randrange(0, 200),
                           lat=-5.4 - rng.random() / 2 if i % 3 else None, lon=105.0 + rng.random() / 3)
        for i, code in enumerate(ALL_DESA)
    ]  # fmt: skip
    dates = working_days_after(OFFICE_TODAY, 30)
    expected = planning.make_plan(candidates, rules, dates)
    for _ in range(5):
        rng.shuffle(candidates)
        assert planning.make_plan(candidates, rules, dates) == expected
    assert all(day.expected <= 120 or len(day.desa) == 1 for day in expected)
    calendar = OfficeCalendar.from_settings(OfficeHoursSettings())
    assert planning.working_days(calendar, dt.date(2026, 11, 6), 3) == working_days_after(OFFICE_TODAY, 3)


# --------------------------------------------------------------------------------------------------- visits
async def test_a_visits_outcome_raises_its_desas_recorded_figure_and_its_kecamatans_coverage(
    office: InProcessRequestService,
) -> None:
    office.pin_clock()
    admin, operator = office.as_("admin"), office.as_("operator")
    pidada, kedondong = CATALOG.kecamatan["18.09.06"].villages, CATALOG.kecamatan["18.09.07"].villages
    rows = [
        {"village_code": pidada[0], "obliged": 1000, "recorded": 700},
        {"village_code": pidada[1], "obliged": 500, "recorded": 450},
        {"village_code": kedondong[0], "obliged": 800, "recorded": 600},
        {"village_code": kedondong[1], "obliged": 300, "recorded": 300},
    ]
    assert (await put_figures(operator, rows)).status_code == 200
    assert (await operator.put("/v1/coverage/18.09.06", json={"obliged": 9000, "recorded": 7000})).status_code == 200

    visit = {"date": OFFICE_TODAY.isoformat(), "village_codes": [pidada[0], pidada[1]], "team": "Tim Mobile 1"}
    confirmed = await operator.post("/v1/mobile-visits", json=visit)
    assert confirmed.status_code == 201, confirmed.text
    made = confirmed.json()
    assert (made["status"], made["expected_residents"], [d["expected"] for d in made["desa"]]) == (
        "planned", 350, [300, 50]
    )  # fmt: skip
    # A desa with a confirmed visit to record is not proposed again.
    planned = {d["code"] for day in (await plan(operator, days=5))["days"] for d in day["desa"]}
    assert planned == {kedondong[0]}

    outcome = {"desa": [{"village_code": pidada[0], "recorded": 120}, {"village_code": pidada[1], "recorded": 30}]}
    recorded = await operator.post(f"/v1/mobile-visits/{made['id']}/outcome", json=outcome)
    assert recorded.status_code == 200, recorded.text
    assert (recorded.json()["status"], recorded.json()["recorded_residents"]) == ("recorded", 150)

    async def gaps() -> dict[str, int]:
        listed = (await operator.get("/v1/desa-figures", params={"kecamatan": "18.09.06"})).json()["items"]
        return {row["village_code"]: row["gap"] for row in listed}

    async def recorded_in(kecamatan: str) -> tuple[int, int]:
        rows = (await operator.get("/v1/coverage")).json()["kecamatan"]
        row = next(r for r in rows if r["code"] == kecamatan)
        return row["obliged"], row["recorded"]

    assert await gaps() == {pidada[0]: 180, pidada[1]: 20}
    assert await recorded_in("18.09.06") == (9000, 7150)
    # Sent again, the outcome replaces the first: only the difference counts.
    outcome["desa"][0]["recorded"] = 100
    assert (await operator.post(f"/v1/mobile-visits/{made['id']}/outcome", json=outcome)).status_code == 200
    assert await gaps() == {pidada[0]: 200, pidada[1]: 20}
    assert await recorded_in("18.09.06") == (9000, 7130)
    audited = (await admin.get("/v1/audit", params={"action": "coverage.recorded"})).json()["items"]
    assert {(e["object_id"], e["before"]["recorded"], e["after"]["recorded"]) for e in audited} == {
        ("18.09.06", 7000, 7150), ("18.09.06", 7150, 7130)
    }  # fmt: skip

    # A kecamatan without coverage figures starts from its desa figures.
    other = {"date": OFFICE_TODAY.isoformat(), "village_codes": [kedondong[0]], "team": "Tim Mobile 2"}
    second = (await operator.post("/v1/mobile-visits", json=other)).json()
    only = {"desa": [{"village_code": kedondong[0], "recorded": 50}]}
    assert (await operator.post(f"/v1/mobile-visits/{second['id']}/outcome", json=only)).status_code == 200
    assert await recorded_in("18.09.07") == (1100, 950)

    not_on_it = {"desa": [{"village_code": kedondong[1], "recorded": 5}]}
    refused = await operator.post(f"/v1/mobile-visits/{made['id']}/outcome", json=not_on_it)
    assert (refused.status_code, refused.json()["errors"][0]["field"]) == (422, "desa.0.village_code")
    future = {"date": "2026-11-09", "village_codes": [kedondong[1]], "team": "Tim Mobile 1"}
    ahead = (await operator.post("/v1/mobile-visits", json=future)).json()
    early = await operator.post(f"/v1/mobile-visits/{ahead['id']}/outcome", json=not_on_it)
    assert (early.status_code, early.json()["type"].rsplit("/", 1)[1]) == (409, "mobile-visit-not-yet")
    unknown = await operator.post("/v1/mobile-visits", json=visit | {"village_codes": ["18.09.06.2999"]})
    assert (unknown.status_code, unknown.json()["errors"][0]["field"]) == (422, "village_codes.0")
    no_figures = await operator.post("/v1/mobile-visits", json=visit | {"village_codes": [pidada[5]]})
    assert no_figures.status_code == 422
    assert "no figures" in no_figures.json()["detail"]

    listed = (await operator.get("/v1/mobile-visits", params={"status": "recorded"})).json()
    assert {v["id"] for v in listed["items"]} == {made["id"], second["id"]}
    assert (await operator.get(f"/v1/mobile-visits/{ahead['id']}")).json()["status"] == "planned"


async def test_a_visits_print_requests_are_mobile_unit_and_name_the_visit(office: InProcessRequestService) -> None:
    office.pin_clock()
    operator = office.as_("operator")
    desa = CATALOG.kecamatan["18.09.01"].villages[0]
    assert (await put_figures(operator, [{"village_code": desa, "obliged": 900, "recorded": 800}])).status_code == 200
    visit = {"date": OFFICE_TODAY.isoformat(), "village_codes": [desa], "team": "Tim Mobile 1"}
    visit_id = (await operator.post("/v1/mobile-visits", json=visit)).json()["id"]
    url = f"/v1/mobile-visits/{visit_id}/requests"

    rows = {"rows": [batch_row(1), batch_row(2), batch_row(3) | {"channel": "kecamatan_batch"}]}
    uploaded = await operator.post(url, json=rows)
    assert uploaded.status_code == 201, uploaded.text
    batch = uploaded.json()
    assert (batch["accepted_rows"], batch["rejected_rows"], batch["status"]) == (2, 1, "completed_with_errors")
    report = (await operator.get(f"/v1/batches/{batch['id']}/report")).json()
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(3, "channel")]
    replayed = await operator.post(url, json=rows)
    assert (replayed.status_code, replayed.json()["id"], replayed.headers["idempotent-replayed"]) == (
        200, batch["id"], "true"
    )  # fmt: skip
    as_csv = await operator.post(url, content=to_csv([batch_row(4)]), headers=CSV)
    assert (as_csv.status_code, as_csv.json()["accepted_rows"]) == (201, 1)

    brought = (await operator.get("/v1/requests", params={"mobile_visit_id": visit_id})).json()
    assert brought["total"] == 3
    assert {(r["channel"], r["mobile_visit_id"], r["status"]) for r in brought["items"]} == {
        ("mobile_unit", visit_id, "queued")
    }
    one = (await operator.get(f"/v1/requests/{brought['items'][0]['id']}")).json()
    assert one["mobile_visit_id"] == visit_id
    assert (await operator.get(f"/v1/mobile-visits/{visit_id}")).json()["requests"] == 3
    waiting = (await operator.get("/v1/desa-figures", params={"kecamatan": "18.09.01"})).json()["items"]
    assert waiting[0]["waiting"] == 3

    # An ordinary batch is untouched: kecamatan_batch, no visit.
    plain = await operator.post("/v1/batches", json={"rows": [batch_row(5)]})
    assert plain.status_code == 201, plain.text
    listed = (await operator.get("/v1/requests", params={"batch_id": plain.json()["id"]})).json()["items"]
    assert [(r["channel"], r["mobile_visit_id"]) for r in listed] == [("kecamatan_batch", None)]

    missing = await operator.post("/v1/mobile-visits/00000000-0000-4000-8000-000000000000/requests", json=rows)
    assert missing.status_code == 404
    assert (await office.as_("clerk").post(url, json={"rows": [batch_row(6)]})).status_code == 403
