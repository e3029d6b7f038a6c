"""``create_app(settings)``: the request service's FastAPI app."""

from __future__ import annotations

from fastapi import FastAPI

from services.common.app import build_app
from services.common.audit import audit_router
from services.request.config import Settings
from services.request.models import AuditEvent

__all__ = ["create_app"]


def create_app(settings: Settings) -> FastAPI:
    return build_app(
        settings,
        service="request",
        title="ektp-print request service",
        description=__doc__ or "",
        database_url=settings.resolved_database_url(),
        routers=[audit_router(AuditEvent)],
    )
