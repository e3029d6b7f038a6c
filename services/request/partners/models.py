"""The partner registry and the webhook outbox (tables of the request service, migration 0010).

The outbox is filled by database triggers (migration 0010): every insert into ``print_requests`` and every change
of its ``status``, for a request a registered partner submitted, adds a ``webhook_events`` row in the same
transaction as the change, whichever code path made it (the ORM, the claim's single UPDATE on PostgreSQL, the
bulk inserts). Nothing can change a partner's request without its event, and no event exists for a change that
rolled back.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.common.models import BigIntPK, UTCDateTime, utcnow
from services.request.models import Base

__all__ = ["Partner", "PartnerSecret", "WebhookAttempt", "WebhookEvent"]


class Partner(Base):
    """A partner system (a hospital's BPJS desk, a university): what it may ask for, and where it is told."""

    __tablename__ = "partners"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)  # the client_id, also the tokens' subject
    name: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str] = mapped_column(String(200))
    allowed_reasons: Mapped[list[str]] = mapped_column(JSON)
    allowed_kecamatan: Mapped[list[str] | None] = mapped_column(JSON)  # None: every kecamatan
    rate_limit_per_minute: Mapped[int] = mapped_column(Integer)
    callback_url: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20))  # active | suspended
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class PartnerSecret(Base):
    """One of a partner's secrets: a client secret (only its SHA-256: it is 256 random bits) or a webhook signing
    secret (sealed with the data keys: it must be read to sign). A rotated secret keeps working until
    ``expires_at`` (the overlap), then is ignored."""

    __tablename__ = "partner_secrets"
    __table_args__ = (Index("ix_partner_secrets_partner_kind", "partner_id", "kind"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(ForeignKey("partners.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))  # client | webhook
    secret_hash: Mapped[str | None] = mapped_column(String(64))
    sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    key_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class WebhookEvent(Base):
    """A partner's request changed status: one message to deliver (at least once, in ``id`` order per request)."""

    __tablename__ = "webhook_events"
    __table_args__ = (
        Index("ix_webhook_events_due", "state", "next_attempt_at"),
        Index("ix_webhook_events_request", "request_id", "id"),
        Index("ix_webhook_events_partner", "partner_id", "id"),
    )

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    partner_id: Mapped[str] = mapped_column(String(40))
    request_id: Mapped[str] = mapped_column(String(36))
    status: Mapped[str] = mapped_column(String(20))  # the request's new status: the event's type
    previous_status: Mapped[str | None] = mapped_column(String(20))
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    state: Mapped[str] = mapped_column(String(20), default="pending")  # pending | delivered | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    leased_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)


class WebhookAttempt(Base):
    """One try at delivering an event: what the partner's receiver answered, how fast, or why it failed."""

    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    event_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("webhook_events.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    response_snippet: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(String(300))
