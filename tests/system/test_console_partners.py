"""An admin registers a partner system in the console, copies its secrets (shown once), and suspends it: the
partner's token stops at once. Headless Chromium against the whole system as ``ektp up`` starts it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.system.conftest import csp_refusals
from tests.system.console import axe_violations, element, open_console, screenshot, tab, text_of
from tests.system.harness import SystemUnderTest, wait_until

pytestmark = [
    pytest.mark.integration,
    pytest.mark.browser,
    pytest.mark.xdist_group("system"),
    pytest.mark.filterwarnings("ignore::ResourceWarning"),
    pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning"),
]


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SystemUnderTest]:
    sut = SystemUnderTest(tmp_path_factory.mktemp("console-partners"), blanks=10, time_scale=3000)
    try:
        sut.start()
        yield sut
    finally:
        sut.stop()


def test_an_admin_registers_a_partner_sees_its_secrets_once_and_suspends_it(
    system: SystemUnderTest, browser: Any
) -> None:
    from selenium.webdriver.common.by import By

    admin = system.info["first_admin"]
    console = open_console(system, browser, admin["username"], admin["password"])
    tab(console, "partners")
    form = element(console, "#partner-form")
    form.find_element(By.NAME, "name").send_keys("Universitas Lampung — PMB")
    form.find_element(By.NAME, "contact").send_keys("pmb@unila.example")
    form.find_element(By.NAME, "reason-education").click()
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    secrets = element(console, "#partner-secret-values")
    values = [node.text for node in secrets.find_elements(By.CSS_SELECTOR, "dd code")]
    client_id, client_secret, webhook_secret = values
    assert (client_id[:4], client_secret[:4], webhook_secret[:6]) == ("ptn_", "pcs_", "whsec_")
    screenshot(console, "partners")
    assert axe_violations(console) == []

    url = system.info["urls"]["request"]
    grant = {"grant_type": "client_credentials"}
    answer = httpx.post(f"{url}/v1/auth/token", data=grant, auth=(client_id, client_secret))
    assert answer.status_code == 200, answer.text
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    assert httpx.get(f"{url}/v1/requests", headers=headers).status_code == 200
    with system.client("request", "admin") as api:
        stored = api.get(f"/v1/partners/{client_id}").json()
    assert stored["allowed_reasons"] == ["health", "education"]
    assert client_secret not in str(stored)

    wait_until(lambda: client_id in text_of(console, "#partner-list"), timeout=10, what="the partner listed")
    console.find_element(By.XPATH, f"//tr[td/code[text()='{client_id}']]//button[@name='toggle']").click()
    wait_until(lambda: "ditangguhkan" in text_of(console, "#partner-list"), timeout=10, what="suspended")
    refused = httpx.get(f"{url}/v1/requests", headers=headers)
    assert refused.status_code == 401
    # The secrets are not shown again: a reload of the page holds none of them.
    console.refresh()
    assert client_secret not in console.page_source
    assert csp_refusals(console) == []
