"""The whole system, started the way a user starts it (``ektp up``), driven the way its users drive it: a
partner submits an urgent request, a clerk uploads a kecamatan batch, the front desk takes walk-ins, the
printers print, an operator activates a card. Checked through the APIs and the emulators' card logs, on
SQLite (the embedded default) and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.ops.demo import request_body
from tests.conftest import pg_admin, pg_url, postgres_missing
from tests.factories import to_csv
from tests.system.conftest import csp_refusals
from tests.system.harness import SystemUnderTest, people, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.xdist_group("system"),
    # A socket left to the garbage collector by a client library while processes die and restart.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

BATCH_KECAMATAN = "18.09.01"


def _postgres_env(databases: list[str]) -> dict[str, str]:
    return {
        f"EKTP_{s.upper()}_DATABASE_URL": pg_url(name)
        for s, name in zip(("request", "inventory", "gateway"), databases, strict=True)
    }


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def system(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SystemUnderTest]:
    env: dict[str, str] = {}
    databases: list[str] = []
    if request.param == "postgres":
        tag = uuid.uuid4().hex[:8]
        databases = [f"ektp_e2e_{s}_{tag}" for s in ("request", "inventory", "gateway")]
        try:
            for name in databases:
                asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
        except OSError:
            postgres_missing()
        env = _postgres_env(databases)
    sut = SystemUnderTest(tmp_path_factory.mktemp(f"e2e-{request.param}"), env=env, blanks=300, time_scale=3000)
    try:
        sut.start()
        yield sut
    finally:
        sut.stop()
        for name in databases:
            asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _bare_env() -> dict[str, str]:
    """A user's shell, not the test's: no EKTP_* settings; `make coverage`'s variables pass (they measure it)."""
    coverage = {k: v for k, v in os.environ.items() if k.startswith("COVERAGE_")}
    return {"COLUMNS": "160", "PATH": "/usr/bin:/bin"} | coverage


@pytest.fixture(scope="module")
def office_day(system: SystemUnderTest) -> dict[str, Any]:
    """One morning at the office: what each user submitted, and the system's state once printing stops."""
    rng = random.Random(7)
    walk_ins = people(12, seed=11, first_serial=1)
    batch_people = people(24, seed=12, kecamatan=BATCH_KECAMATAN, first_serial=100)
    partner_patient = people(1, seed=13, first_serial=200)[0]

    # The kecamatan clerk's batch first, so that the urgent request arrives behind a queue of regular work.
    batch_rows = [request_body(p, rng, channel="kecamatan_batch", reason="address_change") for p in batch_people]
    for row in batch_rows:
        row.pop("channel")
    bad = dict(batch_rows[0], nik="1809019999999999")  # not consistent with its birth date
    with system.client("request", "clerk", scope=[BATCH_KECAMATAN], subject="clerk-gedong-tataan") as clerk:
        response = clerk.post(
            "/v1/batches",
            params={"filename": "USULAN-E2E-1"},
            content=to_csv([*batch_rows, bad]),
            headers={"Content-Type": "text/csv"},
        )
    assert response.status_code in (200, 201, 202), response.text
    batch = response.json()
    with system.client("request") as operator:  # the office approves the kecamatan's proposal
        approved = operator.post(f"/v1/batches/{batch['id']}/decisions", json={"approve": "all_valid"})
    assert approved.status_code == 200, approved.text

    walk_in_ids = system.submit(walk_ins, seed=3)
    with system.client("request", "partner", subject="rsud-pesawaran") as partner:
        urgent = partner.post(
            "/v1/requests",
            json=request_body(partner_patient, rng, channel="partner", reason="health"),
            headers={"Idempotency-Key": "rsud-2026-0001"},
        )
    assert urgent.status_code == 201, urgent.text
    urgent_id = urgent.json()["id"]

    with system.client("request") as operator:

        def drained() -> bool:
            stats = operator.get("/v1/queue/stats").json()
            return stats["queued"] == 0 and stats["printing"] == 0

        wait_until(drained, timeout=120, what="the queue to drain")
        batch_report = operator.get(f"/v1/batches/{batch['id']}/report").json()
        batch_ids = [
            r["id"]
            for r in operator.get("/v1/requests", params={"channel": "kecamatan_batch", "limit": 500}).json()["items"]
        ]
    return {"batch": batch_report, "batch_ids": batch_ids, "walk_in_ids": walk_in_ids, "urgent_id": urgent_id}


def test_the_printers_are_commissioned_and_the_tranche_received_on_first_start(system: SystemUnderTest) -> None:
    with system.client("gateway") as gateway, system.client("inventory") as inventory:
        printers = gateway.get("/v1/printers").json()
        stock = inventory.get("/v1/stock").json()
    assert sorted(p["name"] for p in printers) == ["printer-1", "printer-2"]
    assert all(p["model"] and p["firmware"] for p in printers)
    assert stock["received"] == 300


def test_the_batch_queues_its_valid_rows_and_reports_the_invalid_one(office_day: dict[str, Any]) -> None:
    report = office_day["batch"]
    assert report["batch"]["rejected_rows"] == 1
    assert report["batch"]["accepted_rows"] == len(office_day["batch_ids"]) > 0
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(len(office_day["batch_ids"]) + 1, "nik")]


def test_every_request_is_printed_exactly_once(system: SystemUnderTest, office_day: dict[str, Any]) -> None:
    ids = office_day["batch_ids"] + office_day["walk_in_ids"] + [office_day["urgent_id"]]
    accounting = system.account(ids)
    assert accounting.by_status == {"printed": len(ids)}
    assert accounting.cards_out == len(ids)
    assert accounting.duplicate_requests == []
    assert accounting.unmatched_cards == []


def test_the_blank_ledger_balances_and_every_card_consumed_one_blank(
    system: SystemUnderTest, office_day: dict[str, Any]
) -> None:
    printed = len(office_day["batch_ids"]) + len(office_day["walk_in_ids"]) + 1
    with system.client("inventory") as inventory:
        invariant = inventory.get("/v1/stock/invariant").json()
    assert invariant["holds"] is True
    assert invariant["consumed"] == printed
    assert invariant["reserved"] == 0
    assert invariant["received"] == invariant["available"] + invariant["consumed"] + invariant["spoiled"]


def test_the_urgent_request_was_printed_before_the_batch_that_queued_earlier(
    system: SystemUnderTest, office_day: dict[str, Any]
) -> None:
    with system.client("request") as operator:
        urgent = operator.get(f"/v1/requests/{office_day['urgent_id']}").json()
    cards = {c["serial"]: c["seq"] + 10_000 * int(c["printer"].rsplit("-", 1)[-1]) for c in system.card_log()}
    times = {c["serial"]: c["time"] for c in system.card_log()}
    batch_times = []
    with system.client("request") as operator:
        for request_id in office_day["batch_ids"]:
            batch_times.append(times[operator.get(f"/v1/requests/{request_id}").json()["card_serial"]])
    assert urgent["card_serial"] in cards
    # Two printers work in parallel: the urgent card comes out within the first cards, not after the batch.
    assert sum(t < times[urgent["card_serial"]] for t in batch_times) <= 2


def test_an_operator_activates_a_printed_card_only_with_its_own_serial(
    system: SystemUnderTest, office_day: dict[str, Any]
) -> None:
    request_id = office_day["walk_in_ids"][0]
    with system.client("request") as operator:
        printed = operator.get(f"/v1/requests/{request_id}").json()
        wrong = operator.post(f"/v1/requests/{request_id}/activate", json={"card_serial": "KTP99999999"})
        right = operator.post(f"/v1/requests/{request_id}/activate", json={"card_serial": printed["card_serial"]})
        after = operator.get(f"/v1/requests/{request_id}").json()
    assert wrong.status_code in (409, 422)
    assert wrong.headers["content-type"].startswith("application/problem+json")
    assert right.status_code == 200, right.text
    assert after["status"] == "activated"


def test_the_status_command_shows_printers_queue_and_stock(system: SystemUnderTest, office_day: dict[str, Any]) -> None:
    import subprocess
    import sys

    urls = system.info["urls"]
    result = subprocess.run(
        [sys.executable, "-m", "services.ops.cli", "status", "--token", system.token("operator"),
         "--request-url", urls["request"], "--inventory-url", urls["inventory"], "--gateway-url", urls["gateway"]],
        capture_output=True, text=True, timeout=60, env=_bare_env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "printer-1" in result.stdout
    assert "printer-2" in result.stdout
    assert "consumed" in result.stdout
    # The stock forecast, with the backlog counted (the inventory asks the request service for it).
    assert "rate per day" in result.stdout
    assert "suggested quantity" in result.stdout


def test_import_batch_uploads_a_file_and_prints_its_report(system: SystemUnderTest, tmp_path: Path) -> None:
    import subprocess
    import sys

    rng = random.Random(5)
    residents = people(3, seed=99, kecamatan=BATCH_KECAMATAN, first_serial=300)
    rows = [request_body(p, rng, channel="kecamatan_batch", reason="data_correction") for p in residents]
    for row in rows:
        row.pop("channel")
    rows[1]["rt"] = "1"  # not three digits
    path = tmp_path / "usulan.csv"
    path.write_bytes(to_csv(rows))
    result = subprocess.run(
        [sys.executable, "-m", "services.ops.cli", "import-batch", str(path),
         "--token", system.token("clerk", scope=[BATCH_KECAMATAN]), "--request-url", system.info["urls"]["request"]],
        capture_output=True, text=True, timeout=60, env=_bare_env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "rt" in result.stdout


@pytest.mark.browser
def test_the_console_shows_printers_and_stock_and_activates_a_card(
    system: SystemUnderTest, office_day: dict[str, Any], browser: Any
) -> None:
    from selenium.common.exceptions import ElementNotInteractableException, StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, 20)
    browser.get(f"{system.info['urls']['request']}/console/")
    system.console_sign_in(browser, "front-desk-1", system.staff_account("front-desk-1"))

    wait.until(lambda b: "printer-2" in b.find_element(By.ID, "overview-printers").text)
    assert "front-desk-1 (operator)" in browser.find_element(By.ID, "who").text
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#stock-summary dd[data-key=consumed]"))
    with system.client("inventory") as inventory:
        consumed = inventory.get("/v1/stock").json()["consumed"]
    shown = browser.find_element(By.CSS_SELECTOR, "#stock-summary dd[data-key=consumed]").text
    assert shown == str(consumed)
    # The forecast panel shows the rate of use and the backlog the inventory fetched from the request service.
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#forecast dd[data-key=rate_per_day]"))
    assert browser.find_element(By.CSS_SELECTOR, "#forecast dd[data-key=backlog]").text.isdigit()

    request_id = office_day["walk_in_ids"][1]
    with system.client("request") as operator:
        serial = operator.get(f"/v1/requests/{request_id}").json()["card_serial"]
    browser.find_element(By.CSS_SELECTOR, "#tabs button[data-view=requests]").click()
    Select(browser.find_element(By.CSS_SELECTOR, "#request-filter select[name=status]")).select_by_value("printed")
    browser.find_element(By.CSS_SELECTOR, "#request-filter button").click()

    def activate_in_the_list(b: Any) -> bool:
        # The list re-renders when a filter is applied: find the row afresh until the click lands.
        try:
            row = next((r for r in b.find_elements(By.CSS_SELECTOR, "#request-list tr") if request_id in r.text), None)
            if row is None:
                return False
            row.find_element(By.NAME, "activate-serial").send_keys(serial)
            row.find_element(By.XPATH, ".//button[text()='Aktifkan']").click()
        except (StaleElementReferenceException, ElementNotInteractableException):
            return False  # caught mid re-render: the row's input is replaced or not shown yet
        return True

    wait.until(activate_in_the_list)

    def activated() -> bool:
        with system.client("request") as operator:
            return operator.get(f"/v1/requests/{request_id}").json()["status"] == "activated"

    wait.until(lambda _b: activated())
    assert browser.find_element(By.ID, "message").text == ""
    # The page did all this under its Content-Security-Policy without tripping it once.
    assert csp_refusals(browser) == []
