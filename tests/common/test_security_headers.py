"""The office console's answers tell the browser what the page may do: run only its own files, call only the
three services, never be framed, never be sniffed into another type, never leak its address as a referrer."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from importlib.resources import files
from pathlib import Path

import httpx
import pytest

from services.common.auth import KeyPair
from services.request.app import create_app
from services.request.config import Settings

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}
CONSOLE_PATHS = (
    "/console/",
    "/console/index.html",
    "/console/js/main.js",
    "/console/console.css",
    "/console/config.json",
)


def directives(policy: str) -> dict[str, list[str]]:
    """``default-src 'self'; connect-src …`` → {"default-src": ["'self'"], "connect-src": […]}."""
    parsed = {}
    for directive in policy.split(";"):
        name, *sources = directive.split()
        parsed[name] = sources
    return parsed


@pytest.fixture
async def console(tmp_path: Path, keys: KeyPair) -> AsyncIterator[httpx.AsyncClient]:
    """The request service that serves the console; the inventory URL configured, the gateway's left empty."""
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'request.db'}",
        jwt_public_key=keys.public_pem.decode(),
        console_inventory_url="https://inventory.kantor.example:9443/",
        console_gateway_url="",
    )
    transport = httpx.ASGITransport(app=create_app(settings))
    async with httpx.AsyncClient(transport=transport, base_url="http://kantor.example:8001") as client:
        yield client


async def test_the_console_page_and_its_files_carry_the_security_headers(console: httpx.AsyncClient) -> None:
    for path in CONSOLE_PATHS:
        response = await console.get(path)
        assert response.status_code == 200, path
        for name, value in SECURITY_HEADERS.items():
            assert response.headers.get(name) == value, (path, name)
        policy = directives(response.headers["content-security-policy"])
        assert policy["default-src"] == ["'self'"], path
        assert policy["object-src"] == ["'none'"], path
        assert policy["base-uri"] == ["'none'"], path
        assert policy["frame-ancestors"] == ["'none'"], path
        assert "'unsafe-inline'" not in response.headers["content-security-policy"], path
        assert "'unsafe-eval'" not in response.headers["content-security-policy"], path
    redirect = await console.get("/console")
    assert redirect.status_code in (301, 302, 307, 308)
    assert redirect.headers["x-frame-options"] == "DENY"


async def test_the_page_may_call_its_own_origin_and_the_services_config_json_names_and_no_other(
    console: httpx.AsyncClient,
) -> None:
    response = await console.get("/console/")
    connect = directives(response.headers["content-security-policy"])["connect-src"]
    # The gateway's URL is empty in config.json: js/main.js calls it on the page's host at port 8003.
    assert connect == ["'self'", "https://inventory.kantor.example:9443", "http://kantor.example:8003"]
    services = (await console.get("/console/config.json")).json()["services"]
    assert services["inventory"] == "https://inventory.kantor.example:9443/"


async def test_a_forged_host_header_cannot_add_a_directive_to_the_policy(console: httpx.AsyncClient) -> None:
    response = await console.get("/console/", headers={"Host": "kantor.example;script-src *"})
    policy = response.headers["content-security-policy"]
    assert "script-src" not in policy
    for source in directives(policy)["connect-src"]:
        assert re.fullmatch(r"'self'|https?://[a-z0-9.-]+(:\d+)?", source), source


def test_the_page_needs_no_inline_script_or_style() -> None:
    # What lets the policy leave out 'unsafe-inline': every script and style is a file of its own.
    html = (files("services.console") / "static" / "index.html").read_text()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "<style" not in html
    assert re.findall(r"\sstyle\s*=", html) == []
    assert re.findall(r"\son[a-z]+\s*=", html) == []
    assert "javascript:" not in html
