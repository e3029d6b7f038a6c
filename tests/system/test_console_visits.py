"""The office plans the mobile unit's visits in the console: imports its per-desa figures (CSV), sees the gap per
kecamatan as a chart, asks for a plan and confirms its first day as a visit. Headless Chromium against the whole
system as ``ektp up`` starts it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.factories import CATALOG
from tests.system.conftest import csp_refusals
from tests.system.console import (
    axe_violations,
    click_when_drawn,
    element,
    open_console,
    screenshot,
    tab,
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
    sut = SystemUnderTest(tmp_path_factory.mktemp("console-visits"), blanks=10, time_scale=3000)
    try:
        sut.start()
        yield sut
    finally:
        sut.stop()


def test_the_office_imports_desa_figures_plans_visits_and_confirms_a_day(
    system: SystemUnderTest, browser: Any, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    villages = list(CATALOG.villages.values())[:12]
    lines = ["village_code,obliged,recorded"]
    lines += [f"{v.code},{400 + 10 * n},{300 + 5 * n}" for n, v in enumerate(villages)]
    figures = tmp_path / "angka-desa.csv"
    figures.write_text("\n".join(lines) + "\n")
    biggest = max(enumerate(villages), key=lambda pair: 100 + 5 * pair[0])[1]  # the largest gap: the plan's first

    console = open_console(system, browser, "desk-visits", system.staff_account("desk-visits"))
    tab(console, "visits")
    element(console, "#figures-form input[type=file]").send_keys(str(figures))
    console.find_element(By.CSS_SELECTOR, "#figures-form button[type=submit]").click()
    wait_for_text(console, "#message", "Angka desa diperbarui")
    element(console, "#gap-chart svg")
    console.find_element(By.CSS_SELECTOR, "#plan-form button[type=submit]").click()
    wait_for_text(console, "#visit-plan-days", biggest.name)
    screenshot(console, "visits")
    assert axe_violations(console) == []

    click_when_drawn(console, "//table[@id='visit-plan-days']//tr[2]//button")
    wait_for_text(console, "#message", "dikonfirmasi")
    with system.client("request", "operator") as api:
        confirmed = api.get("/v1/mobile-visits").json()["items"]
    assert len(confirmed) == 1
    assert biggest.code in [d["code"] for d in confirmed[0]["desa"]]
    wait_for_text(console, "#visit-list", biggest.name)
    assert csp_refusals(console) == []
