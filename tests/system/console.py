"""What the console's browser tests share: signing in, moving between tabs, reading what the page shows (at
once: views redraw their tables as their answers come), clicking what a redraw may replace, screenshots under
``build/console-screenshots/`` and axe-core's serious and critical findings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.system.harness import SystemUnderTest, wait_until

__all__ = [
    "SCREENSHOTS",
    "axe_violations",
    "click_when_drawn",
    "element",
    "open_console",
    "screenshot",
    "tab",
    "text_of",
    "wait_for_text",
]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "console-screenshots"


def open_console(system: SystemUnderTest, browser: Any, username: str, password: str) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(f"{system.info['urls']['request']}/console/")
    browser.execute_script("localStorage.clear(); sessionStorage.clear();")
    browser.refresh()
    system.console_sign_in(browser, username, password)
    WebDriverWait(browser, 20).until(lambda b: b.find_element(By.ID, "tabs").is_displayed())
    return browser


def tab(browser: Any, view: str) -> None:
    from selenium.webdriver.common.by import By

    browser.find_element(By.CSS_SELECTOR, f"#tabs button[data-view={view}]").click()
    try:
        wait_until(lambda: browser.find_element(By.ID, view).is_displayed(), timeout=10, what=f"the {view} page")
    except TimeoutError:
        screenshot(browser, f"failed-{view}")  # what the page showed instead
        raise


def element(browser: Any, css: str, timeout: float = 10) -> Any:
    """The element once the page has drawn it (views draw after their API answers)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser, timeout).until(lambda b: b.find_element(By.CSS_SELECTOR, css))


def click_when_drawn(browser: Any, xpath: str) -> None:
    """Click the element at ``xpath``, again if the view redrew it in between (its answers came in twice)."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
    from selenium.webdriver.common.by import By

    def click() -> bool:
        try:
            browser.find_element(By.XPATH, xpath).click()
        except (StaleElementReferenceException, NoSuchElementException):
            return False
        return True

    wait_until(click, timeout=10, what=f"a click on {xpath}")


def text_of(browser: Any, css: str) -> str:
    """What the page shows in the elements ``css`` selects (read at once: a view redraws its tables as it likes)."""
    script = "return [...document.querySelectorAll(arguments[0])].map(n => n.innerText).join(' ');"
    return str(browser.execute_script(script, css))


def wait_for_text(browser: Any, css: str, words: str, timeout: float = 20) -> None:
    try:
        wait_until(lambda: words in text_of(browser, css), timeout=timeout, what=f"{words!r} in {css}")
    except TimeoutError as error:  # what the console said instead
        raise AssertionError(f"{error}; the console says: {text_of(browser, '#message')!r}") from None


def screenshot(browser: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    browser.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def axe_violations(browser: Any) -> list[str]:
    """axe-core's serious and critical findings on the page as shown (one line each: rule, and where)."""
    import axe_core_python

    source = (Path(axe_core_python.__file__).parent / "axe.min.js").read_text(encoding="utf-8")
    browser.execute_script(source)
    result = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, { resultTypes: ['violations'] }).then(r => done(JSON.stringify(r.violations)));"
    )
    return [
        f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
        for v in json.loads(result)
        if v["impact"] in ("serious", "critical")
    ]
