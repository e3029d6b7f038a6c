"""Tables of the inventory service. Schema changes go through alembic (migrations/inventory), never create_all."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from services.common.models import AuditEventMixin, IdempotencyKeyMixin

__all__ = ["AuditEvent", "Base", "IdempotencyKey"]


class Base(DeclarativeBase):
    pass


class AuditEvent(AuditEventMixin, Base):
    pass


class IdempotencyKey(IdempotencyKeyMixin, Base):
    pass
