"""The office's day in the console, driven in headless Chromium against the whole system as ``ektp up`` starts
it (SQLite, emulated printers): the front desk takes a walk-in with a photo file and a signature scan, the
emulator prints the card, the desk activates it by its serial (typed as a barcode scanner does, Enter at the
end) and hands it over; a kecamatan clerk uploads a proposal and sees only its kecamatan, the office approves the
proposal; the store receives a tranche. Every page passes axe-core's serious and critical rules, and a screenshot
of each is saved under ``build/console-screenshots/`` (not committed)."""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.factories import PORTRAIT, SIGNATURE_SCAN, batch_row, make_nik, request_body, to_csv
from tests.system.conftest import csp_refusals
from tests.system.console import (
    axe_violations,
    click_when_drawn,
    element,
    open_console,
    screenshot,
    tab,
    text_of,
    wait_for_text,
)
from tests.system.harness import SystemUnderTest, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.xdist_group("system"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

# Each page, and what shows once its answers are drawn.
PAGES = {
    "overview": "#queue-stats dt", "requests": "#request-list tr", "proposals": "#proposal-list tr",
    "printers": "#printer-list td", "stock": "#tranches td", "desk": "#desk-printed tr",
    "coverage": "#coverage-table td", "users": "#user-list td", "partners": "#partner-form",
}  # fmt: skip


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SystemUnderTest]:
    sut = SystemUnderTest(tmp_path_factory.mktemp("console-day"), blanks=50, time_scale=3000)
    try:
        sut.start()
        yield sut
    finally:
        sut.stop()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    photo, signature = tmp_path / "foto.jpg", tmp_path / "ttd.png"
    photo.write_bytes(base64.b64decode(PORTRAIT))
    signature.write_bytes(base64.b64decode(SIGNATURE_SCAN))
    return {"photo": photo, "signature": signature}


def test_the_front_desk_takes_a_walk_in_that_is_printed_activated_and_handed_over(
    system: SystemUnderTest, browser: Any, files: dict[str, Path]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    console = open_console(system, browser, "desk-day", system.staff_account("desk-day"))
    tab(console, "requests")
    console.find_element(By.ID, "new-request").click()
    form = element(console, "#intake-form")

    def control(name: str) -> Any:
        return form.find_element(By.CSS_SELECTOR, f"[name={name}]")

    nik = make_nik("18.09.03", dt.date(1999, 8, 21), "F", 77)
    control("nik").send_keys(nik)
    # The NIK fills the birth date and sex, and names the kecamatan where it was first registered.
    wait_for_text(console, "#nik-status", "Tegineneng")
    assert control("birth_date").get_attribute("value") == "1999-08-21"
    assert Select(control("sex")).first_selected_option.get_attribute("value") == "F"
    assert control("kecamatan_code").get_attribute("value") == "18.09.03"
    for name, value in [("name", "dewi lestari"), ("birth_place", "tegineneng"), ("occupation", "mahasiswa"),
                        ("address", "jl. poros desa 3"), ("rt", "4"), ("rw", "1")]:  # fmt: skip
        control(name).send_keys(value)
    assert control("name").get_attribute("value") == "DEWI LESTARI"  # typed in capitals as the card has them
    Select(control("village_code")).select_by_index(2)
    Select(control("reason")).select_by_value("education")
    console.find_element(By.ID, "photo-file").send_keys(str(files["photo"]))
    console.find_element(By.ID, "signature-file").send_keys(str(files["signature"]))
    control("old_ktp_seen").click()
    control("kk_copy_seen").click()
    screenshot(console, "intake")
    assert axe_violations(console) == []
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    # The request's page opens: the resident, the history, and the card as the printer draws it.
    wait_for_text(console, "#request h2", "DEWI LESTARI")
    request_id = console.find_element(By.CSS_SELECTOR, "#request h2 small").text
    with system.client("request", "operator") as api:
        stored = api.get(f"/v1/requests/{request_id}", params={"purpose": "pelayanan"}).json()
    assert (stored["card"]["nik"], stored["reason"], stored["priority"]) == (nik, "education", "urgent")
    assert (stored["old_ktp_seen"], stored["kk_copy_seen"], stored["channel"]) == (True, True, "walk_in")
    wait_for_text(console, "#request-timeline", "Permohonan diterima")
    wait_until(lambda: console.find_elements(By.ID, "card-preview"), timeout=10, what="the card preview")
    screenshot(console, "request")
    assert axe_violations(console) == []

    # The emulator prints it; the desk scans the serial (typed, then Enter) and hands the card over.
    def printed() -> str | None:
        with system.client("request", "operator") as api:
            body = api.get(f"/v1/requests/{request_id}", params={"purpose": "pelayanan"}).json()
        return body["card_serial"] if body["status"] == "printed" else None

    serial = wait_until(printed, timeout=60, what="the walk-in printed")
    tab(console, "desk")
    wait_for_text(console, "#desk-printed", serial)
    scanner = element(console, "#activate-form input[name=serial]")
    assert console.switch_to.active_element == scanner  # the scanner types where the cursor already is
    scanner.send_keys(serial.lower() + Keys.ENTER)
    wait_for_text(console, "#message", f"Kartu {serial} milik DEWI LESTARI diaktifkan")
    received_by = console.find_element(By.CSS_SELECTOR, "#handover-form input[name=received_by]")
    assert received_by.get_attribute("value") == "DEWI LESTARI"
    received_by.send_keys(Keys.ENTER)
    wait_for_text(console, "#message", f"Kartu {serial} diserahkan kepada DEWI LESTARI")
    with system.client("request", "operator") as api:
        done = api.get(f"/v1/requests/{request_id}", params={"purpose": "pelayanan"}).json()
    assert (done["status"], done["card_serial"], done["received_by"]) == ("collected", serial, "DEWI LESTARI")
    assert csp_refusals(console) == []


def test_a_clerk_uploads_a_proposal_sees_only_its_kecamatan_and_the_office_approves_it(
    system: SystemUnderTest, browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    with system.client("request", "operator") as api:
        ours = api.post("/v1/requests", json=request_body(501, kecamatan="18.09.01")).json()["id"]
        theirs = api.post("/v1/requests", json=request_body(502, kecamatan="18.09.02")).json()["id"]
    proposal = tmp_path / "usulan-gedong-tataan.csv"
    rows = [batch_row(n, kecamatan="18.09.01") for n in (511, 512, 513)] + [batch_row(514, rt="12")]
    proposal.write_bytes(to_csv(rows))

    password = system.staff_account("clerk-day", "clerk", kecamatan=["18.09.01"])
    clerk = open_console(system, browser, "clerk-day", password)
    tab(clerk, "requests")
    clerk.find_element(By.CSS_SELECTOR, "#request-filter button[type=submit]").click()
    wait_for_text(clerk, "#request-list", ours)
    assert theirs not in text_of(clerk, "#request-list")
    cells = text_of(clerk, "#request-list td:nth-child(3)").split()
    codes = [word for word in cells if word.startswith("18.")]
    assert len(codes) >= 1
    assert set(codes) == {"18.09.01"}

    tab(clerk, "proposals")
    element(clerk, "#proposal-form input[type=file]").send_keys(str(proposal))
    clerk.find_element(By.CSS_SELECTOR, "#proposal-form button[type=submit]").click()
    wait_for_text(clerk, "#message", "3 baris sah, 1 ditolak")
    wait_for_text(clerk, "#proposal-errors", "rt")  # the refused row, its field and reason
    assert "approve-all" not in clerk.page_source  # a clerk proposes; the office decides
    screenshot(clerk, "proposals-clerk")
    assert axe_violations(clerk) == []
    batch_id = clerk.find_element(By.CSS_SELECTOR, "#proposal-detail h3 small").text

    office = open_console(system, browser, "desk-review", system.staff_account("desk-review"))
    tab(office, "proposals")
    wait_for_text(office, "#proposal-list", proposal.name)
    click_when_drawn(office, f"//table[@id='proposal-list']//button[text()='{proposal.name}']")
    wait_for_text(office, "#approve-all", "3")
    office.find_element(By.ID, "approve-all").click()
    wait_for_text(office, "#message", "Keputusan tersimpan")
    with system.client("request", "operator") as api:
        batch = api.get(f"/v1/batches/{batch_id}").json()
        listed = api.get("/v1/requests", params={"batch_id": batch_id}).json()["items"]
    assert (batch["status"], batch["approved_rows"], batch["pending_rows"]) == ("approved", 3, 0)
    assert len(listed) == 3
    assert all(r["status"] != "received" for r in listed)  # queued (or printed since): no longer awaiting review


def test_the_store_receives_a_tranche_and_the_ledger_still_balances(system: SystemUnderTest, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    with system.client("inventory", "operator") as api:
        before = api.get("/v1/stock").json()
    console = open_console(system, browser, "store-day", system.staff_account("store-day"))
    tab(console, "stock")
    form = element(console, "#tranche-form")
    for name, value in [("reference", "DITJEN-2026-12-0042"), ("first", "KTP20000001"), ("last", "KTP20000100")]:
        form.find_element(By.CSS_SELECTOR, f"[name={name}]").send_keys(value)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for_text(console, "#message", "Kiriman DITJEN-2026-12-0042 diterima")
    wait_for_text(console, "#tranches", "DITJEN-2026-12-0042")
    assert text_of(console, "#invariant").startswith("seimbang")
    with system.client("inventory", "operator") as api:
        after = api.get("/v1/stock").json()
    assert after["received"] == before["received"] + 100
    custody = console.find_element(By.ID, "custody-form")
    custody.find_element(By.CSS_SELECTOR, "[name=serial]").send_keys("KTP20000042")
    custody.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for_text(console, "#custody-result", "DITJEN-2026-12-0042")


def test_every_page_is_accessible_and_photographed(system: SystemUnderTest, browser: Any) -> None:
    admin = system.info["first_admin"]
    console = open_console(system, browser, admin["username"], admin["password"])
    found = {}
    for view, drawn in PAGES.items():
        tab(console, view)
        wait_until(lambda: text_of(console, drawn), timeout=10, what=f"the {view} page drawn")  # noqa: B023
        assert text_of(console, "#message") == "", view
        screenshot(console, view)
        found[view] = axe_violations(console)
    assert found == {view: [] for view in PAGES}
    assert csp_refusals(console) == []


def collected_request(system: SystemUnderTest, serial_number: int) -> str:
    """A walk-in taken over the API, printed by the emulator, activated and handed over: the resident's card."""
    with system.client("request", "operator") as api:
        request_id = api.post("/v1/requests", json=request_body(serial_number, kecamatan="18.09.05")).json()["id"]

        def printed() -> str | None:
            body = api.get(f"/v1/requests/{request_id}").json()
            return body["card_serial"] if body["status"] == "printed" else None

        serial = wait_until(printed, timeout=60, what="the card printed")
        assert api.post(f"/v1/requests/{request_id}/activate", json={"card_serial": serial}).status_code == 200
        assert api.post(f"/v1/requests/{request_id}/handover", json={"received_by": "BUDI"}).status_code == 200
    return request_id


def test_a_walk_in_photographed_with_the_desks_webcam_and_signed_on_the_pad(
    system: SystemUnderTest, browser: Any
) -> None:
    """Chromium's fake camera stands in for the desk's webcam; the signature is drawn with the pointer."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    existing = collected_request(system, 601)
    with system.client("request", "operator") as api:
        waiting = api.post("/v1/requests", json=request_body(602, kecamatan="18.09.06")).json()["id"]
        waiting_nik = api.get(f"/v1/requests/{waiting}").json()["card"]["nik"]
    console = open_console(system, browser, "desk-camera", system.staff_account("desk-camera"))
    tab(console, "requests")
    console.find_element(By.ID, "new-request").click()
    form = element(console, "#intake-form")

    # A NIK that already has an open request says so as it is typed, with the way to it.
    form.find_element(By.NAME, "nik").send_keys(waiting_nik)
    element(console, "#nik-duplicate button").click()
    wait_for_text(console, "#request h2 small", waiting)

    tab(console, "requests")
    console.find_element(By.ID, "new-request").click()
    form = element(console, "#intake-form")
    form.find_element(By.NAME, "nik").send_keys(make_nik("18.09.06", dt.date(2008, 1, 2), "M", 603))
    for name, value in [("name", "rizky pratama"), ("birth_place", "punduh pidada"), ("occupation", "pelajar"),
                        ("address", "dusun ii"), ("rt", "2"), ("rw", "3")]:  # fmt: skip
        form.find_element(By.NAME, name).send_keys(value)
    Select(form.find_element(By.NAME, "village_code")).select_by_index(1)
    Select(form.find_element(By.NAME, "reason")).select_by_value("turned_17")
    form.find_element(By.NAME, "old_ktp_seen").click()
    form.find_element(By.NAME, "kk_copy_seen").click()
    console.find_element(By.XPATH, "//button[@data-i18n='capture.camera']").click()
    take = element(console, "button[data-i18n='capture.take']")
    wait_until(lambda: console.execute_script("return document.querySelector('video').videoWidth > 0"), timeout=10)
    take.click()
    wait_until(lambda: console.find_element(By.ID, "photo-preview").is_displayed(), timeout=10, what="the photo")
    size = console.execute_script(
        "const i = document.getElementById('photo-preview'); return [i.naturalWidth, i.naturalHeight];"
    )
    assert size == [472, 709]  # the card's portrait at 300 dpi
    pad = console.find_element(By.CSS_SELECTOR, "canvas.pad")
    ActionChains(console).move_to_element_with_offset(pad, -150, 0).click_and_hold().move_by_offset(
        80, -20
    ).move_by_offset(80, 30).move_by_offset(60, -10).release().perform()
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for_text(console, "#request h2", "RIZKY PRATAMA")
    assert "tersimpan" in text_of(console, "#message")

    # A card the resident holds can be replaced from its page: the old one ends replaced, the new one waits.
    tab(console, "requests")
    filter_form = console.find_element(By.ID, "request-filter")
    Select(filter_form.find_element(By.NAME, "status")).select_by_value("collected")
    filter_form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for_text(console, "#request-list", existing)
    click_when_drawn(console, f"//table[@id='request-list']//button[text()='{existing}']")
    replacement = element(console, "#replacement-form")
    Select(replacement.find_element(By.NAME, "reason")).select_by_value("damaged")
    replacement.find_element(By.NAME, "note").send_keys("retak di laminasi")
    replacement.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_until(lambda: existing not in text_of(console, "#request h2"), timeout=10, what="the replacement's page")
    new_id = console.find_element(By.CSS_SELECTOR, "#request h2 small").text
    with system.client("request", "operator") as api:
        old, new = api.get(f"/v1/requests/{existing}").json(), api.get(f"/v1/requests/{new_id}").json()
    assert (old["status"], old["replaced_by"], new["replaces"]) == ("replaced", new_id, existing)
    assert csp_refusals(console) == []
