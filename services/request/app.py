"""``create_app(settings)``: the request service's FastAPI app."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from services.common.app import build_app
from services.common.audit import audit_router
from services.console import install_console
from services.request.batches.endpoints import router as batches_router
from services.request.cards.endpoints import router as cards_router
from services.request.clients.inventory import InventoryClient
from services.request.config import Settings
from services.request.context import ServiceContext
from services.request.coverage.endpoints import router as coverage_router
from services.request.mobile.endpoints import router as mobile_router
from services.request.models import AuditEvent
from services.request.partners.delivery import delivery_worker
from services.request.partners.endpoints import router as partners_router
from services.request.partners.service import Guard
from services.request.partners.webhooks_doc import install_webhook_docs
from services.request.print_requests.endpoints import router as requests_router
from services.request.privacy.endpoints import router as privacy_router
from services.request.privacy.retention import retention_purge
from services.request.queue.endpoints import router as queue_router
from services.request.queue.sweeper import lease_sweeper
from services.request.regions.endpoints import router as regions_router
from services.request.replacements.endpoints import router as replacements_router
from services.request.staff.endpoints import SIGN_IN_PATH
from services.request.staff.endpoints import router as staff_router
from services.request.sukets.endpoints import VERIFY_PATH as SUKET_VERIFY_PATH
from services.request.sukets.endpoints import router as sukets_router

__all__ = ["create_app"]


def create_app(settings: Settings, *, inventory_transport: httpx.AsyncBaseTransport | None = None) -> FastAPI:
    """Residents' print requests, the priority queue the printer gateway drains, batches, activation, coverage,
    the card registry and replacements. ``inventory_transport`` replaces the network for the inventory (tests
    mount its app)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.inventory_client = InventoryClient(settings, transport=inventory_transport)
        try:
            async with lease_sweeper(app), retention_purge(app), delivery_worker(app):
                yield
        finally:
            await app.state.inventory_client.aclose()

    app = build_app(
        settings,
        service="request",
        title="ektp-print request service",
        description=create_app.__doc__ or "",
        database_url=settings.resolved_database_url(),
        routers=[
            requests_router,
            replacements_router,
            cards_router,
            queue_router,
            batches_router,
            coverage_router,
            mobile_router,
            regions_router,
            privacy_router,
            staff_router,
            partners_router,
            sukets_router,
            audit_router(AuditEvent),
        ],
        lifespan=lifespan,
        # The proposal file's own limit; its reader refuses a body past it too (batches.files.spool).
        upload_limits=[(batches_router.prefix, settings.batch_max_bytes)],
        public_paths=[SIGN_IN_PATH, SUKET_VERIFY_PATH],  # the sign-in form: no token yet; a Suket's QR code
    )
    app.state.context = ServiceContext.from_settings(settings)
    app.state.principal_guard = Guard()  # a registered partner: still active, within its rate limit
    install_webhook_docs(app)
    app.state.exit_hooks.append(app.state.context.queue_signal.close)  # waiting claims answer 204 at once
    install_console(
        app,
        request_url=settings.console_request_url,
        inventory_url=settings.console_inventory_url,
        gateway_url=settings.console_gateway_url,
    )
    return app
