"""``install_console(app, peers)``: serve the console's static files and its ``config.json``.

The page itself holds no data: every figure it shows comes from the services' APIs, called from the browser
with the bearer token the staff member pastes in (kept in the tab's sessionStorage only). The other services
allow the console's origin through CORS (``EKTP_<SERVICE>_CORS_ORIGINS``).
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

__all__ = ["install_console"]


def install_console(app: FastAPI, *, request_url: str, inventory_url: str, gateway_url: str) -> None:
    """Mount the console under ``/console/``; empty URLs mean "same host, ports 8001/8002/8003"."""
    peers = {"request": request_url, "inventory": inventory_url, "gateway": gateway_url}

    @app.get("/console", include_in_schema=False)
    async def console_root() -> RedirectResponse:
        return RedirectResponse("/console/")

    @app.get("/console/config.json", include_in_schema=False)
    async def console_config() -> JSONResponse:
        return JSONResponse({"services": peers})

    app.mount("/console", StaticFiles(packages=[("services.console", "static")], html=True), name="console")
