"""The desk issues a Suket from a waiting request's page (the printers paused: the card is far off), finds it in
the register and withdraws it. Headless Chromium against the whole system as ``ektp up`` starts it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.factories import request_body
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
from tests.system.harness import SystemUnderTest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.xdist_group("system"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SystemUnderTest]:
    sut = SystemUnderTest(tmp_path_factory.mktemp("console-suket"), blanks=10, time_scale=3000)
    try:
        sut.start()
        yield sut
    finally:
        sut.stop()


def test_the_desk_issues_a_suket_for_a_waiting_resident_and_withdraws_it(system: SystemUnderTest, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    with system.client("gateway", "admin") as gateway:
        printers = [p["id"] for p in gateway.get("/v1/printers").json()]
        for printer in printers:
            assert gateway.post(f"/v1/printers/{printer}/pause").status_code in (200, 202)
    try:
        with system.client("request", "operator") as api:
            request_id = api.post("/v1/requests", json=request_body(701, kecamatan="18.09.07")).json()["id"]
        console = open_console(system, browser, "desk-suket", system.staff_account("desk-suket"))
        tab(console, "requests")
        console.find_element(By.CSS_SELECTOR, "#request-filter button[type=submit]").click()
        click_when_drawn(console, f"//table[@id='request-list']//button[text()='{request_id}']")
        element(console, "#request-suket button").click()
        wait_for_text(console, "#message", "diterbitkan")
        wait_for_text(console, "#request-suket", "474.11/")
        with system.client("request", "operator") as api:
            register = api.get("/v1/sukets", params={"status": "valid"}).json()["items"]
        number = next(s["number"] for s in register if s["request_id"] == request_id)

        tab(console, "sukets")
        wait_for_text(console, "#suket-list", number)
        screenshot(console, "sukets")
        assert axe_violations(console) == []
        row = f"//table[@id='suket-list']//tr[td[text()='{number}']]"
        console.find_element(By.XPATH, f"{row}//input[@name='withdraw-reason']").send_keys("salah terbit")
        click_when_drawn(console, f"{row}//button[text()='Tarik']")
        wait_for_text(console, "#message", f"Suket {number} ditarik")
        assert "ditarik" in text_of(console, "#suket-list")
        assert csp_refusals(console) == []
    finally:
        with system.client("gateway", "admin") as gateway:
            for printer in printers:
                gateway.post(f"/v1/printers/{printer}/resume")
