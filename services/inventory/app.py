"""``create_app(settings)``: the inventory service's FastAPI app — the blank-card ledger by serial, tranches,
reservations for the printer gateway, spoilage, the urgent reserve, reorder proposals, forecast and reports."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from services.common.app import build_app
from services.common.audit import audit_router
from services.inventory.clients.requests import RequestServiceClient
from services.inventory.config import Settings
from services.inventory.ledger.endpoints import router as ledger_router
from services.inventory.models import AuditEvent
from services.inventory.reorder.endpoints import router as reorder_router
from services.inventory.reports.endpoints import router as reports_router
from services.inventory.reservations.endpoints import router as reservations_router
from services.inventory.reservations.sweeper import sweeper
from services.inventory.returned_cards.endpoints import router as returned_cards_router
from services.inventory.tranches.endpoints import router as tranches_router

__all__ = ["create_app"]


def create_app(settings: Settings, *, request_transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """The app; ``request_transport`` replaces the network for the request service (tests mount an app)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.requests_client = RequestServiceClient(settings, transport=request_transport)
        try:
            async with sweeper(app):
                yield
        finally:
            await app.state.requests_client.aclose()

    return build_app(
        settings,
        service="inventory",
        title="ektp-print inventory service",
        description=__doc__ or "",
        database_url=settings.resolved_database_url(),
        routers=[
            tranches_router,
            ledger_router,
            reservations_router,
            reorder_router,
            reports_router,
            returned_cards_router,
            audit_router(AuditEvent),
        ],
        lifespan=lifespan,
    )
