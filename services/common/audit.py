"""The audit trail: every state change writes a row in the same transaction as the change.

``Auditor(AuditEvent).record(session, principal, ...)`` adds the row; ``audit_router(AuditEvent)`` gives
admins ``GET /v1/audit``.
"""

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.auth import Authorize, Principal, Role
from services.common.db import ReadSession
from services.common.models import AuditEventMixin
from services.common.pagination import Page, PageParams, paginate

__all__ = ["AuditEventOut", "Auditor", "audit_router"]


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: dt.datetime
    actor: str
    actor_role: str
    action: str
    object_type: str
    object_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None


class Auditor:
    """Writes audit rows into one service's audit table."""

    def __init__(self, model: type[AuditEventMixin]) -> None:
        self.model = model
        # Mixins declare columns, not the constructor: the concrete model takes them as keywords.
        self._new: Callable[..., AuditEventMixin] = model

    def record(
        self,
        session: AsyncSession,
        principal: Principal,
        action: str,
        object_type: str,
        object_id: str,
        *,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
    ) -> None:
        session.add(
            self._new(
                actor=principal.subject,
                actor_role=principal.role.value,
                action=action,
                object_type=object_type,
                object_id=str(object_id),
                before=before,
                after=after,
            )
        )


def audit_router(model: type[AuditEventMixin]) -> APIRouter:
    router = APIRouter(prefix="/v1/audit", tags=["audit"])
    admin = Authorize(Role.ADMIN)

    @router.get("", response_model=Page[AuditEventOut], summary="Read the audit trail (admin)")
    async def list_audit_events(
        session: ReadSession,
        _: Annotated[Principal, Depends(admin)],
        page: Annotated[PageParams, Depends()],
        object_type: str | None = None,
        object_id: str | None = None,
        action: str | None = None,
        actor: str | None = None,
    ) -> Page[AuditEventOut]:
        query = select(model)
        for column, value in (
            (model.object_type, object_type),
            (model.object_id, object_id),
            (model.action, action),
            (model.actor, actor),
        ):
            if value is not None:
                query = query.where(column == value)
        rows, total = await paginate(session, query, model.id.desc(), limit=page.limit, offset=page.offset)
        return Page[AuditEventOut](
            items=[AuditEventOut.model_validate(r) for r in rows],
            total=total,
            limit=page.limit,
            offset=page.offset,
        )

    return router
