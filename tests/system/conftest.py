"""What the system tests that drive the console share (the ``browser`` fixture itself is in tests/conftest.py)."""

from __future__ import annotations

from typing import Any

__all__ = ["csp_refusals"]


def csp_refusals(browser: Any) -> list[str]:
    """What the page's Content-Security-Policy refused since the last look (the browser's console log)."""
    return [entry["message"] for entry in browser.get_log("browser") if "Content Security Policy" in entry["message"]]
