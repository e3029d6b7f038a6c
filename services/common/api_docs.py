"""``install_api_docs(app)``: the API's pages, Swagger UI at ``/docs`` and ReDoc at ``/redoc``, with no CDN.

The office has no internet: FastAPI's own pages load their scripts and styles from cdn.jsdelivr.net and its
favicon from fastapi.tiangolo.com, so they would stay blank. These pages are FastAPI's own HTML
(``get_swagger_ui_html``, ``get_redoc_html``) pointed at files this service serves itself, from the
``fastapi-standalone-docs`` package: swagger-ui-dist and redoc as published on npm (ReDoc's one link to its
logo on cdn.redoc.ly changed to ``<page>/logo-mini.svg``), and FastAPI's favicon. Only the files are used, not
the package's code (it patches FastAPI's functions for every app in the process). Not swagger-ui-bundle: its
last release holds Swagger UI 4.15.5, which shows "Unable to render this definition" for the OpenAPI 3.1
document FastAPI writes.

Each page's files sit under its own path, which the page's route answers exactly: ``/docs/swagger-ui-bundle.js``,
``/docs/swagger-ui.css``, ``/docs/favicon.png``; ``/redoc/redoc.standalone.js``, ``/redoc/logo-mini.svg``,
``/redoc/favicon.png``. Behind the compose proxy every URL a page names starts with the prefix the proxy strips
(``root_path``), as the OpenAPI document's does. Like the document, the pages and their files need no token.

Each page carries a Content-Security-Policy: scripts only from the service itself, plus the page's own inline
initializer, allowed by its SHA-256 hash. The hash is taken from the page as it is sent (it names the
root path), so it follows FastAPI's template if that changes. ReDoc's styles are made at run time (as
``<style>`` elements, by styled-components), so its page alone allows inline styles; its scripts stay the
service's own. Calls only to the service itself (the OpenAPI document, Swagger UI's "Try it out"), no plug-ins,
no ``<base>``, no framing.
"""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.staticfiles import StaticFiles
from starlette.responses import HTMLResponse

__all__ = ["install_api_docs", "page_policy"]

_PACKAGE = "fastapi_standalone_docs"
# An inline script: a <script> element without a src attribute, and its text (what a CSP hash covers).
_INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def _sha256_source(text: str) -> str:
    digest = base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    return f"'sha256-{digest}'"


def page_policy(html: str, *, redoc: bool = False) -> str:
    """The Content-Security-Policy of a docs page: its inline scripts allowed by hash, everything else 'self'.

    ReDoc's page also allows inline styles (styled-components writes its CSS into ``<style>`` elements; with
    ``style-src 'self'`` ReDoc stops at "Something went wrong") and a ``blob:`` worker (its search index).
    """
    scripts = ["'self'", *(_sha256_source(script) for script in _INLINE_SCRIPT.findall(html))]
    directives = [
        "default-src 'self'",
        "script-src " + " ".join(scripts),
        "style-src 'self'" + (" 'unsafe-inline'" if redoc else ""),
        "img-src 'self' data:",  # Swagger UI's stylesheet draws its icons as data: SVGs
        "connect-src 'self'",  # the OpenAPI document; Swagger UI's "Try it out"
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    if redoc:
        directives.append("worker-src 'self' blob:")
    return "; ".join(directives)


def _page(response: HTMLResponse, *, redoc: bool = False) -> HTMLResponse:
    """``response`` with the headers every docs page carries."""
    html = bytes(response.body).decode()
    response.headers.update(
        {
            "Content-Security-Policy": page_policy(html, redoc=redoc),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",  # frame-ancestors, for browsers that predate it
        }
    )
    return response


def _assets(*folders: str) -> StaticFiles:
    # Found without importing the package; a folder a release of it moved fails here, when the app is built.
    return StaticFiles(packages=[(_PACKAGE, f"static/{folder}") for folder in folders])


def _root(request: Request) -> str:
    root: str = request.scope.get("root_path", "")
    return root.rstrip("/")


def install_api_docs(app: FastAPI, *, docs_url: str | None = "/docs", redoc_url: str | None = "/redoc") -> None:
    """Serve Swagger UI at ``docs_url`` and ReDoc at ``redoc_url`` (``None``: not served) with their files.

    ``app`` is made with ``docs_url=None, redoc_url=None`` (FastAPI's CDN pages off). Call it after the app's
    routers are included: each page's files are a mount on the page's path, which must come after any route
    under it (``/docs/oauth2-redirect``, added here first).
    """
    openapi_url = app.openapi_url
    if openapi_url is None:
        return  # no document, nothing to show (as FastAPI does)
    if docs_url is not None:
        oauth2_redirect_url = app.swagger_ui_oauth2_redirect_url

        async def swagger_ui(request: Request) -> HTMLResponse:
            root = _root(request)
            return _page(
                get_swagger_ui_html(
                    openapi_url=root + openapi_url,
                    title=f"{app.title} - Swagger UI",
                    swagger_js_url=f"{root}{docs_url}/swagger-ui-bundle.js",
                    swagger_css_url=f"{root}{docs_url}/swagger-ui.css",
                    swagger_favicon_url=f"{root}{docs_url}/favicon.png",
                    oauth2_redirect_url=root + oauth2_redirect_url if oauth2_redirect_url else None,
                    init_oauth=app.swagger_ui_init_oauth,
                    swagger_ui_parameters=app.swagger_ui_parameters,
                )
            )

        app.add_route(docs_url, swagger_ui, include_in_schema=False)
        if oauth2_redirect_url:

            async def swagger_ui_redirect(request: Request) -> HTMLResponse:
                return _page(get_swagger_ui_oauth2_redirect_html())

            app.add_route(oauth2_redirect_url, swagger_ui_redirect, include_in_schema=False)
        app.mount(docs_url, _assets("swagger", "fastapi"), name="swagger-ui-assets")

    if redoc_url is not None:

        async def redoc(request: Request) -> HTMLResponse:
            root = _root(request)
            page = get_redoc_html(
                openapi_url=root + openapi_url,
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{root}{redoc_url}/redoc.standalone.js",
                redoc_favicon_url=f"{root}{redoc_url}/favicon.png",
                with_google_fonts=False,
            )
            return _page(page, redoc=True)

        app.add_route(redoc_url, redoc, include_in_schema=False)
        app.mount(redoc_url, _assets("redoc", "fastapi"), name="redoc-assets")
