"""``install_console(app, peers)``: serve the console's static files and its ``config.json``.

The page itself holds no data: every figure it shows comes from the services' APIs, called from the browser
with the bearer token the staff member signed in for (kept in the tab's sessionStorage only). The other services
allow the console's origin through CORS (``EKTP_<SERVICE>_CORS_ORIGINS``).

Every answer under ``/console`` carries a Content-Security-Policy: scripts, styles and images from the page's
own origin only (images also from ``blob:`` URLs the page makes for its previews; no inline script or style:
``index.html`` loads the ES modules under ``js/`` and ``console.css``), calls to the page's origin and the
three APIs ``config.json`` names, no plug-ins, no ``<base>``, no framing. A script smuggled into the page could
neither run inline nor send the token elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["install_console", "security_headers"]

# js/main.js calls a service whose URL config.json leaves empty on the page's own host at these ports.
_FALLBACK_PORTS = {"inventory": 8002, "gateway": 8003}
# What may stand in a CSP source expression: a host name or an IP address, nothing that ends the directive.
_HOST = re.compile(r"[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]")
_SCHEMES = ("http", "https")


def _origin(scheme: str, host: str, port: int | None) -> str | None:
    host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    if scheme not in _SCHEMES or not _HOST.fullmatch(host):
        return None
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def _configured_origin(url: str) -> str | None:
    parts = urlsplit(url)
    try:
        return _origin(parts.scheme, parts.hostname or "", parts.port)
    except ValueError:  # a port that is not a number
        return None


def _connect_sources(scope: Scope, peers: Mapping[str, str]) -> list[str]:
    """The APIs the page may call: its own origin, and each service as config.json (or js/main.js) names it."""
    sources = ["'self'"]
    page = Request(scope).url
    for service, url in peers.items():
        if url:
            origin = _configured_origin(url)
        elif service in _FALLBACK_PORTS:
            origin = _origin(page.scheme, page.hostname or "", _FALLBACK_PORTS[service])
        else:
            origin = None  # the request service: the page's own origin
        if origin and origin not in sources:
            sources.append(origin)
    return sources


def security_headers(scope: Scope, peers: Mapping[str, str]) -> dict[str, str]:
    """The headers every console answer carries (the policy depends on the host the page was asked from)."""
    policy = "; ".join(
        (
            "default-src 'self'",
            "connect-src " + " ".join(_connect_sources(scope, peers)),
            # Previews the page makes itself: the photo just taken or chosen, the card fetched with the token.
            "img-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        )
    )
    return {
        "Content-Security-Policy": policy,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "X-Frame-Options": "DENY",  # frame-ancestors, for browsers that predate it
        # The desk's webcam for the resident's photo: this page only, nothing it embeds; no microphone, no location.
        "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
    }


class _WithSecurityHeaders:
    """Adds ``security_headers`` to every answer of the static files."""

    def __init__(self, app: ASGIApp, peers: Mapping[str, str]) -> None:
        self.app = app
        self.peers = peers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(security_headers(scope, self.peers))
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_console(app: FastAPI, *, request_url: str, inventory_url: str, gateway_url: str) -> None:
    """Mount the console under ``/console/``; empty URLs mean "same host, ports 8001/8002/8003"."""
    peers = {"request": request_url, "inventory": inventory_url, "gateway": gateway_url}

    @app.get("/console", include_in_schema=False)
    async def console_root(request: Request) -> RedirectResponse:
        return RedirectResponse("/console/", headers=security_headers(request.scope, peers))

    @app.get("/console/config.json", include_in_schema=False)
    async def console_config(request: Request) -> JSONResponse:
        return JSONResponse({"services": peers}, headers=security_headers(request.scope, peers))

    static = StaticFiles(packages=[("services.console", "static")], html=True)
    app.mount("/console", _WithSecurityHeaders(static, peers), name="console")
