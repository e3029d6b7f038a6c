"""The office console speaks the desk's language: Bahasa Indonesia unless the staff member switches to English,
the choice kept across reloads; and a listed request shows its kecamatan by name. Driven in headless chromium
against the whole system started as a user starts it (``ektp up``, SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.system.conftest import csp_refusals
from tests.system.harness import SystemUnderTest, people

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.xdist_group("system"),
    # A socket left to the garbage collector by a client library while processes die and restart.
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]

KECAMATAN = "18.09.01"
TABS = ["overview", "requests", "printers", "stock", "coverage"]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SystemUnderTest]:
    sut = SystemUnderTest(tmp_path_factory.mktemp("console-language"), blanks=50, time_scale=3000)
    try:
        sut.start()
        yield sut
    finally:
        sut.stop()


@pytest.fixture
def console(system: SystemUnderTest, browser: Any) -> Any:
    """The console as a new member of staff first sees it: no language chosen, nobody signed in."""
    browser.get(f"{system.info['urls']['request']}/console/")
    browser.execute_script("localStorage.clear(); sessionStorage.clear();")
    browser.refresh()
    return browser


def _sign_in(system: SystemUnderTest, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    system.console_sign_in(browser, "front-desk-2", system.staff_account("front-desk-2"))
    WebDriverWait(browser, 20).until(lambda b: b.find_element(By.ID, "tabs").is_displayed())


def _tab_labels(browser: Any) -> list[str]:
    from selenium.webdriver.common.by import By

    return [
        browser.find_element(By.CSS_SELECTOR, f"#tabs button[data-view={view}]").get_attribute("textContent").strip()
        for view in TABS
    ]


def test_the_console_opens_in_bahasa_indonesia(system: SystemUnderTest, console: Any) -> None:
    from selenium.webdriver.common.by import By

    # The dictionaries are a file of the page's own, served under the same policy as the page's scripts.
    words = httpx.get(f"{system.info['urls']['request']}/console/js/i18n.js", timeout=10)
    assert words.status_code == 200
    assert "default-src 'self'" in words.headers["content-security-policy"]
    assert console.execute_script("return document.documentElement.lang") == "id"
    assert console.find_element(By.CSS_SELECTOR, "#signin h2").text == "Masuk"
    assert console.find_element(By.CSS_SELECTOR, "#signin-form button").text == "Masuk"
    assert _tab_labels(console) == ["Ringkasan", "Permohonan", "Pencetakan", "Blangko", "Cakupan"]
    assert console.find_element(By.CSS_SELECTOR, "#language button[data-lang=id]").get_attribute("aria-pressed") == (
        "true"
    )

    _sign_in(system, console)
    assert console.find_element(By.CSS_SELECTOR, "#tabs button[data-view=requests]").text == "Permohonan"
    assert console.find_element(By.ID, "signout").text == "Keluar"
    assert "front-desk-2 (operator)" in console.find_element(By.ID, "who").text
    assert csp_refusals(console) == []


def test_english_is_one_click_away_and_survives_a_reload(system: SystemUnderTest, console: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(console, 20)
    _sign_in(system, console)
    wait.until(lambda b: b.find_elements(By.CSS_SELECTOR, "#queue-stats dd[data-key=queued]"))
    assert console.find_element(By.CSS_SELECTOR, "#queue-stats dt").text == "Antre"

    console.find_element(By.CSS_SELECTOR, "#language button[data-lang=en]").click()
    assert console.execute_script("return document.documentElement.lang") == "en"
    assert _tab_labels(console) == ["Overview", "Requests", "Printing", "Blank cards", "Coverage"]
    # What the console had drawn is drawn again in English, without waiting for the next answer.
    assert console.find_element(By.CSS_SELECTOR, "#queue-stats dt").text == "queued"
    assert console.find_element(By.ID, "signout").text == "Sign out"

    console.refresh()  # still signed in (the tab keeps the token) and still in English
    wait.until(lambda b: b.find_element(By.ID, "tabs").is_displayed())
    assert console.execute_script("return document.documentElement.lang") == "en"
    assert console.execute_script("return localStorage.getItem('ektp-lang')") == "en"
    assert _tab_labels(console) == ["Overview", "Requests", "Printing", "Blank cards", "Coverage"]
    assert console.title == "ektp-print — office console"

    console.find_element(By.ID, "signout").click()  # told to the request service first (on record), then gone
    wait.until(lambda b: b.find_element(By.ID, "signin").is_displayed())
    assert console.find_element(By.CSS_SELECTOR, "#signin h2").text == "Sign in"
    assert console.find_element(By.ID, "message").text == "You have signed out."

    console.find_element(By.CSS_SELECTOR, "#language button[data-lang=id]").click()
    assert console.find_element(By.CSS_SELECTOR, "#signin h2").text == "Masuk"
    assert console.find_element(By.ID, "message").text == "Anda sudah keluar."
    assert console.execute_script("return document.documentElement.lang") == "id"
    assert csp_refusals(console) == []


def test_a_listed_request_shows_its_kecamatan_by_name(system: SystemUnderTest, console: Any) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    [request_id] = system.submit(people(1, seed=41, kecamatan=KECAMATAN, first_serial=700), seed=41)
    with system.client("request") as operator:
        card = operator.get(f"/v1/requests/{request_id}").json()["card"]
    assert card["kecamatan_code"] == KECAMATAN
    assert card["kecamatan"]  # the name, from the region reference data

    _sign_in(system, console)
    console.find_element(By.CSS_SELECTOR, "#tabs button[data-view=requests]").click()
    console.find_element(By.CSS_SELECTOR, "#request-filter input[name=kecamatan]").send_keys(KECAMATAN)
    console.find_element(By.CSS_SELECTOR, "#request-filter button").click()

    def kecamatan_cell(b: Any) -> str | None:
        try:
            headings = [th.text for th in b.find_elements(By.CSS_SELECTOR, "#request-list th")]
            for row in b.find_elements(By.CSS_SELECTOR, "#request-list tr"):
                cells = row.find_elements(By.TAG_NAME, "td")
                if cells and cells[0].text == request_id:
                    return str(cells[headings.index("Kecamatan")].text)
        except StaleElementReferenceException:  # caught mid re-render
            pass
        return None

    shown = WebDriverWait(console, 20).until(kecamatan_cell)
    assert card["kecamatan"] in shown
    assert KECAMATAN in shown
    headings = [th.text for th in console.find_elements(By.CSS_SELECTOR, "#request-list th")]
    assert headings[:6] == ["Permohonan", "Nama", "Kecamatan", "Prioritas", "Status", "Nomor seri kartu"]
    assert console.find_element(By.ID, "request-total").text.endswith("permohonan")
    assert csp_refusals(console) == []


def test_staff_sign_in_with_a_password_a_wrong_one_is_told_and_five_lock_the_account(
    system: SystemUnderTest, console: Any
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(console, 20)
    message = lambda: console.find_element(By.ID, "message").text  # noqa: E731
    password = system.staff_account("loket-3")
    for attempt in range(4):
        system.console_sign_in(console, "loket-3", f"salah-{attempt}")
        wait.until(lambda _b: message() == "Nama pengguna atau kata sandi salah.")
        console.execute_script(
            "document.getElementById('message').textContent = ''; document.getElementById('username').value = ''"
        )
    system.console_sign_in(console, "loket-3", "salah-4")
    wait.until(lambda _b: message().startswith("Terlalu banyak kata sandi salah: akun dikunci"))
    console.find_element(By.ID, "username").clear()
    system.console_sign_in(console, "loket-3", password)  # the right one, while locked
    wait.until(lambda _b: "dikunci" in message())
    assert not console.find_element(By.ID, "tabs").is_displayed()

    # ektp up made the first account on its first start: the office signs in with it, then signs out.
    admin = system.info["first_admin"]
    console.find_element(By.ID, "username").clear()
    system.console_sign_in(console, admin["username"], admin["password"])
    wait.until(lambda b: b.find_element(By.ID, "tabs").is_displayed())
    assert "admin (admin)" in console.find_element(By.ID, "who").text
    assert console.execute_script("return document.getElementById('password').value") == ""
    console.find_element(By.ID, "signout").click()
    wait.until(lambda b: b.find_element(By.ID, "signin").is_displayed())
    with system.client("request", "admin") as office:
        trail = office.get("/v1/audit", params={"object_type": "staff_user", "limit": 200}).json()["items"]
    actions = [(row["object_id"], row["action"]) for row in trail]
    assert ("admin", "auth.signed_in") in actions
    assert ("admin", "auth.signed_out") in actions
    assert ("loket-3", "auth.locked") in actions
    assert csp_refusals(console) == []


def test_an_admin_adds_a_clerk_in_the_console_who_then_signs_in_until_disabled(
    system: SystemUnderTest, console: Any
) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(console, 20)

    def sign_in_over_the_api(password: str) -> int:
        form = {"grant_type": "password", "username": "sari", "password": password}
        return httpx.post(f"{system.info['urls']['request']}/v1/auth/token", data=form, timeout=30).status_code

    # An operator does not see the staff tab.
    system.console_sign_in(console, "front-desk-3", system.staff_account("front-desk-3"))
    wait.until(lambda b: b.find_element(By.ID, "tabs").is_displayed())
    assert not console.find_element(By.CSS_SELECTOR, "#tabs button[data-view=users]").is_displayed()
    console.find_element(By.ID, "signout").click()
    wait.until(lambda b: b.find_element(By.ID, "signin").is_displayed())

    admin = system.info["first_admin"]
    console.find_element(By.ID, "username").clear()
    system.console_sign_in(console, admin["username"], admin["password"])
    wait.until(lambda b: b.find_element(By.ID, "tabs").is_displayed())
    console.find_element(By.CSS_SELECTOR, "#tabs button[data-view=users]").click()
    wait.until(lambda b: len(b.find_elements(By.CSS_SELECTOR, "#user-form select[name=kecamatan] option")) > 1)
    form = console.find_element(By.ID, "user-form")
    form.find_element(By.NAME, "username").send_keys("sari")
    form.find_element(By.NAME, "full_name").send_keys("SARI WULANDARI")
    Select(form.find_element(By.NAME, "role")).select_by_value("clerk")
    Select(form.find_element(By.NAME, "kecamatan")).select_by_value(KECAMATAN)
    form.find_element(By.NAME, "password").send_keys("gedong-tataan-1")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    def sari() -> Any:
        return next((r for r in console.find_elements(By.CSS_SELECTOR, "#user-list tr") if "sari" in r.text), None)

    def row_text() -> str:
        try:
            row = sari()
            return row.text if row is not None else ""
        except StaleElementReferenceException:  # caught mid re-render
            return ""

    def disable(_b: Any) -> bool:
        try:
            sari().find_element(By.NAME, "toggle").click()
        except (StaleElementReferenceException, AttributeError):
            return False
        return True

    wait.until(lambda _b: "Gedong Tataan (18.09.01)" in row_text())
    assert "petugas kecamatan" in row_text()
    assert console.find_element(By.ID, "message").text == "Pengguna sari ditambahkan."
    assert sign_in_over_the_api("gedong-tataan-1") == 200

    wait.until(disable)
    wait.until(lambda _b: "nonaktif" in row_text())
    assert sign_in_over_the_api("gedong-tataan-1") == 400
    assert csp_refusals(console) == []
