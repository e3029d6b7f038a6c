"""``create_app(settings)``: the gateway service's FastAPI app.

The lifespan makes the peer clients and the ``Dispatcher`` (journal recovery, one worker per printer,
capacity publishing) and stops them at shutdown.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from services.common.app import build_app
from services.common.audit import audit_router
from services.common.peers import PeerPolicy, service_client
from services.gateway.clients import InventoryClient, RequestClient
from services.gateway.config import Settings
from services.gateway.dispatch.dispatcher import Dispatcher
from services.gateway.dispatch.gateway import Gateway
from services.gateway.fleet.endpoints import router as fleet_router
from services.gateway.jobs.endpoints import router as jobs_router
from services.gateway.models import AuditEvent

__all__ = ["create_app"]


def create_app(settings: Settings) -> FastAPI:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        policy = PeerPolicy(max_wait=settings.peer_retry_max_wait)
        token = settings.token() or None
        async with (
            service_client(settings.request_url, token=token) as request_http,
            service_client(settings.inventory_url, token=token) as inventory_http,
        ):
            gateway = Gateway(
                settings=settings,
                db=app.state.db,
                requests=RequestClient(request_http, policy=policy),
                inventory=InventoryClient(inventory_http, policy=policy),
            )
            dispatcher = Dispatcher(gateway)
            app.state.dispatcher = dispatcher
            await dispatcher.start()
            try:
                yield
            finally:
                await dispatcher.stop()

    return build_app(
        settings,
        service="gateway",
        title="ektp-print printer gateway",
        description=__doc__ or "",
        database_url=settings.resolved_database_url(),
        routers=[fleet_router, jobs_router, audit_router(AuditEvent)],
        lifespan=lifespan,
    )
