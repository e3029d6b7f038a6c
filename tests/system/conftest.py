"""What the system tests that drive the console share: one headless Chromium per test module."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import chromium_or_skip

__all__ = ["csp_refusals"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = chromium_or_skip()  # fails instead under EKTP_REQUIRE_BROWSER (CI installs both)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})  # the console's messages: CSP reports
    session = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    session.set_window_size(1400, 1000)
    try:
        yield session
    finally:
        session.quit()


def csp_refusals(browser: Any) -> list[str]:
    """What the page's Content-Security-Policy refused since the last look (the browser's console log)."""
    return [entry["message"] for entry in browser.get_log("browser") if "Content Security Policy" in entry["message"]]
