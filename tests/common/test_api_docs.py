"""The API's pages (Swagger UI at /docs, ReDoc at /redoc) load in an office without internet: every script,
stylesheet and image they name is served by the service itself, under the proxy's prefix when there is one,
without a token, and the page's Content-Security-Policy lets nothing else run."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from services.common.auth import KeyPair
from services.gateway.app import create_app as gateway_app
from services.gateway.config import Settings as GatewaySettings
from services.inventory.app import create_app as inventory_app
from services.inventory.config import Settings as InventorySettings
from services.request.app import create_app as request_app
from services.request.config import Settings as RequestSettings
from tests.common.test_security_headers import directives

SERVICES: dict[str, tuple[Callable[..., FastAPI], type[Any]]] = {
    "request": (request_app, RequestSettings),
    "inventory": (inventory_app, InventorySettings),
    "gateway": (gateway_app, GatewaySettings),
}
# What each kind of file the pages load must be answered as.
CONTENT_TYPES = {
    ".js": ("text/javascript", "application/javascript"),
    ".css": ("text/css",),
    ".png": ("image/png",),
    ".svg": ("image/svg+xml",),
}
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL)


def make_app(service: str, tmp_path: Path, keys: KeyPair, root_path: str = "") -> FastAPI:
    create_app, settings = SERVICES[service]
    return create_app(
        settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path / f'{service}.db'}",
            jwt_public_key=keys.public_pem.decode(),
            root_path=root_path,
        )
    )


@pytest.fixture(
    params=[(service, root) for service in SERVICES for root in ("", f"/api/{service}")],
    ids=lambda param: f"{param[0]}{'-behind-proxy' if param[1] else ''}",
)
async def docs(
    request: pytest.FixtureRequest, tmp_path: Path, keys: KeyPair
) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    """A client with no token for one service, reached directly or behind the proxy, and the proxy's prefix.

    Behind the proxy the client asks for a URL as a page names it (``/api/inventory/docs/…``) and the scope
    holds the prefix as ``root_path``, as uvicorn hands it on (services/common/server.py) once the proxy has
    stripped it."""
    service, root = request.param
    app = make_app(service, tmp_path, keys, root)
    transport = httpx.ASGITransport(app=app, root_path=root)
    async with httpx.AsyncClient(transport=transport, base_url=f"http://{service}.kantor.example:8000") as client:
        yield client, root


class _Links(HTMLParser):
    """Every URL an element of the page names (src, href, spec-url) and the text of its inline scripts."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []  # (tag, attribute, URL)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("src", "href", "spec-url", "action") and value is not None:
                self.urls.append((tag, name, value))


def links(html: str) -> list[tuple[str, str, str]]:
    parser = _Links()
    parser.feed(html)
    return parser.urls


def sha256_source(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


def assert_same_origin(url: str, root: str, what: object) -> None:
    """A URL the browser resolves against the service itself: a path under the proxy's prefix, no host."""
    assert url.startswith(f"{root}/"), what
    assert not url.startswith("//"), what
    assert "://" not in url, what


async def assert_served(client: httpx.AsyncClient, url: str) -> httpx.Response:
    response = await client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    suffix = Path(url).suffix
    assert response.headers["content-type"].split(";")[0] in CONTENT_TYPES[suffix], (url, response.headers)
    assert response.content, url
    return response


def assert_offline_page(page: httpx.Response, root: str) -> list[tuple[str, str, str]]:
    """A docs page that names no other host, and each of whose URLs is the service's own."""
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "cdn." not in page.text
    assert re.findall(r"https?://", page.text) == []  # today's pages: cdn.jsdelivr.net, fastapi.tiangolo.com
    found = links(page.text)
    for tag, attribute, url in found:
        assert_same_origin(url, root, (tag, attribute, url))
    return found


async def test_swagger_ui_and_every_file_it_loads_come_from_the_service(
    docs: tuple[httpx.AsyncClient, str],
) -> None:
    client, root = docs
    page = await client.get("/docs")
    found = assert_offline_page(page, root)
    scripts = [url for tag, attribute, url in found if tag == "script" and attribute == "src"]
    stylesheets = [url for tag, _, url in found if tag == "link" and url.endswith(".css")]
    # The page does load Swagger UI: not an empty page that passes the checks above.
    assert scripts
    assert stylesheets
    for url in [url for _, _, url in found]:
        await assert_served(client, url)
    bundle = (await client.get(scripts[0])).text
    assert "SwaggerUIBundle" in bundle
    # The document the page loads: under the prefix, and answered.
    assert f"url: '{root}/openapi.json'" in page.text
    assert (await client.get(f"{root}/openapi.json")).status_code == 200


async def test_redoc_and_every_file_it_loads_come_from_the_service(docs: tuple[httpx.AsyncClient, str]) -> None:
    client, root = docs
    page = await client.get("/redoc")
    found = assert_offline_page(page, root)
    assert ("redoc", "spec-url", f"{root}/openapi.json") in found
    scripts = [url for tag, attribute, url in found if tag == "script" and attribute == "src"]
    assert len(scripts) == 1
    for url in [url for _, attribute, url in found if attribute != "spec-url"]:
        await assert_served(client, url)
    bundle = (await client.get(scripts[0])).text
    # ReDoc shows its logo from `<page's path>/logo-mini.svg` (the package's one change to redoc.standalone.js:
    # upstream loads it from cdn.redoc.ly).
    assert "cdn.redoc.ly" not in bundle
    assert 'window.location.pathname+"/logo-mini.svg"' in bundle
    await assert_served(client, f"{root}/redoc/logo-mini.svg")


async def test_the_pages_let_only_the_services_own_scripts_and_their_own_initializer_run(
    docs: tuple[httpx.AsyncClient, str],
) -> None:
    client, _ = docs
    for path in ("/docs", "/docs/oauth2-redirect", "/redoc"):
        page = await client.get(path)
        assert page.status_code == 200, path
        policy = directives(page.headers["content-security-policy"])
        inline = [sha256_source(script) for script in INLINE_SCRIPT.findall(page.text)]
        # Exactly the page's own inline scripts, by hash (their text names the prefix: hashed as sent).
        assert policy["script-src"] == ["'self'", *inline], path
        assert policy["default-src"] == ["'self'"], path
        assert policy["connect-src"] == ["'self'"], path
        assert policy["object-src"] == ["'none'"], path
        assert policy["base-uri"] == ["'none'"], path
        assert policy["frame-ancestors"] == ["'none'"], path
        assert "'unsafe-eval'" not in page.headers["content-security-policy"], path
        assert page.headers["x-content-type-options"] == "nosniff", path
        assert page.headers["x-frame-options"] == "DENY", path
        # ReDoc's styled-components writes <style> elements: its page alone allows inline styles.
        expected_styles = ["'self'", "'unsafe-inline'"] if path == "/redoc" else ["'self'"]
        assert policy["style-src"] == expected_styles, path
    assert INLINE_SCRIPT.findall((await client.get("/docs")).text)  # the initializer the hash lets run
    assert INLINE_SCRIPT.findall((await client.get("/redoc")).text) == []


async def test_the_served_swagger_ui_renders_the_openapi_version_fastapi_writes(
    docs: tuple[httpx.AsyncClient, str],
) -> None:
    # Swagger UI 4 (the swagger-ui-bundle package's last release holds 4.15.5) shows "Unable to render this
    # definition" for an `openapi: 3.1.x` document, which FastAPI writes: 3.1 needs Swagger UI 5.
    client, root = docs
    document = (await client.get(f"{root}/openapi.json")).json()
    bundle = (await client.get(f"{root}/docs/swagger-ui-bundle.js")).text
    match = re.search(r'PACKAGE_VERSION:"(\d+)\.(\d+)\.(\d+)"', bundle)
    assert match, "no version in swagger-ui-bundle.js"
    assert document["openapi"].startswith("3.1")
    assert int(match.group(1)) >= 5


async def test_a_path_under_docs_that_is_no_file_is_not_found(docs: tuple[httpx.AsyncClient, str]) -> None:
    client, root = docs
    for path in ("/docs/nothing.js", "/docs/../pyproject.toml", "/redoc/%2e%2e/%2e%2e/app.py"):
        assert (await client.get(f"{root}{path}")).status_code == 404, path


# ------------------------------------------------------------------------------------------------ in a browser
PREFIX = "/api/inventory"


class _BehindTheProxy:
    """What the compose proxy and uvicorn make of a browser's call: the prefix stays in the path, and is named
    as the scope's ``root_path`` (``ektp serve`` gives uvicorn ``--root-path``)."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(f"{PREFIX}/"):
            scope = dict(scope, root_path=PREFIX)
        await self.app(scope, receive, send)


@contextlib.contextmanager
def serving(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port in a thread (selenium blocks), and its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", ws="none", http="h11", log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the server stopped before it started"
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def requested_urls(browser: Any) -> set[str]:
    """The URLs the page asked for since the last look."""
    urls = set()
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.add(message["params"]["request"]["url"])
    return urls


@pytest.mark.browser
@pytest.mark.parametrize(("path", "rendered"), [("/docs", ".opblock"), ("/redoc", "[data-section-id]")])
def test_behind_the_proxy_the_page_shows_the_api_in_a_browser_asking_nothing_of_another_host(
    browser: Any, tmp_path: Path, keys: KeyPair, path: str, rendered: str
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    app = make_app("inventory", tmp_path, keys, PREFIX)
    with serving(_BehindTheProxy(app)) as origin:
        browser.get_log("browser")
        requested_urls(browser)
        browser.get(f"{origin}{PREFIX}{path}")
        # The operations are drawn: the scripts ran and the document under the prefix was read and understood.
        WebDriverWait(browser, 30).until(lambda b: b.find_elements(By.CSS_SELECTOR, rendered))
        operations = browser.find_elements(By.CSS_SELECTOR, rendered)
        page_text = browser.find_element(By.TAG_NAME, "body").text
        console = [entry["message"] for entry in browser.get_log("browser")]
        urls = requested_urls(browser)
    assert len(operations) > 5
    assert "Unable to render" not in page_text
    assert "Something went wrong" not in page_text
    assert console == []  # no CSP refusal, no file that failed to load
    own = {url for url in urls if url.startswith(f"{origin}{PREFIX}/")}
    # data: images (Swagger UI's icons) and ReDoc's blob: worker are made in the page; nothing else is fetched.
    assert {url for url in urls - own if not url.startswith(("data:", f"blob:{origin}/"))} == set()
    assert f"{origin}{PREFIX}/openapi.json" in own
