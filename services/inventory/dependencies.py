"""Dependencies the inventory's endpoints share: its settings, its auditor, the role checks."""

from typing import Annotated

from fastapi import Depends, Request

from services.common.audit import Auditor
from services.common.auth import Authorize, Principal, Role
from services.inventory.config import Settings
from services.inventory.models import AuditEvent

__all__ = [
    "SYSTEM",
    "Admin",
    "InventorySettings",
    "Operator",
    "Reader",
    "Service",
    "auditor",
]

auditor = Auditor(AuditEvent)

# Who acts when nobody called: the expiry sweeper.
SYSTEM = Principal(subject="inventory-sweeper", role=Role.SERVICE)


async def _settings(request: Request) -> Settings:
    # async: FastAPI runs a plain ``def`` dependency in a worker thread, a thread hop on every request.
    settings: Settings = request.app.state.settings
    return settings


InventorySettings = Annotated[Settings, Depends(_settings)]

# Module level instances: FastAPI resolves them from the module's globals.
_admin = Authorize(Role.ADMIN)
_operator = Authorize(Role.OPERATOR, Role.ADMIN)
_service = Authorize(Role.SERVICE)
_reader = Authorize(Role.OPERATOR, Role.ADMIN, Role.SERVICE)

Admin = Annotated[Principal, Depends(_admin)]
Operator = Annotated[Principal, Depends(_operator)]
Service = Annotated[Principal, Depends(_service)]
Reader = Annotated[Principal, Depends(_reader)]
