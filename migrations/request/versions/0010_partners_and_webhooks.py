"""partners and webhooks: the partner registry, its secrets, and the webhook outbox filled by triggers

Revision ID: 0010
Revises: 0009

The triggers write a ``webhook_events`` row in the same transaction as each insert into ``print_requests`` and
each change of its ``status``, for a request submitted by a registered partner that has a callback URL, and only
for the statuses partners are told of (services/request/partners/events.py, EVENT_STATUSES). Written as triggers
so that no code path (the ORM, the claim's one UPDATE on PostgreSQL, the bulk inserts) can change a partner's
request without its event.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.common.models import BigIntPK, UTCDateTime

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATUSES = "'queued', 'printing', 'printed', 'needs_review', 'activated', 'collected', 'cancelled', 'rejected'"
COLUMNS = "partner_id, request_id, status, previous_status, occurred_at, state, attempts, next_attempt_at"
PARTNER_WITH_CALLBACK = "EXISTS (SELECT 1 FROM partners WHERE id = NEW.submitted_by AND callback_url IS NOT NULL)"

SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER webhook_event_on_insert AFTER INSERT ON print_requests
    WHEN NEW.submitter_role = 'partner' AND NEW.status IN ({STATUSES}) AND {PARTNER_WITH_CALLBACK}
    BEGIN
      INSERT INTO webhook_events ({COLUMNS})
      VALUES (NEW.submitted_by, NEW.id, NEW.status, NULL, NEW.updated_at, 'pending', 0, NEW.updated_at);
    END""",
    f"""CREATE TRIGGER webhook_event_on_status AFTER UPDATE OF status ON print_requests
    WHEN NEW.submitter_role = 'partner' AND NEW.status IS NOT OLD.status AND NEW.status IN ({STATUSES})
      AND {PARTNER_WITH_CALLBACK}
    BEGIN
      INSERT INTO webhook_events ({COLUMNS})
      VALUES (NEW.submitted_by, NEW.id, NEW.status, OLD.status, NEW.updated_at, 'pending', 0, NEW.updated_at);
    END""",
]

POSTGRES_FUNCTION = f"""CREATE FUNCTION webhook_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.submitter_role = 'partner' AND NEW.status IN ({STATUSES})
     AND (TG_OP = 'INSERT' OR NEW.status IS DISTINCT FROM OLD.status)
     AND {PARTNER_WITH_CALLBACK} THEN
    INSERT INTO webhook_events ({COLUMNS})
    VALUES (NEW.submitted_by, NEW.id, NEW.status, CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END,
            COALESCE(NEW.updated_at, now()), 'pending', 0, COALESCE(NEW.updated_at, now()));
  END IF;
  RETURN NULL;
END $$"""
POSTGRES_TRIGGER = """CREATE TRIGGER webhook_event AFTER INSERT OR UPDATE OF status ON print_requests
FOR EACH ROW EXECUTE FUNCTION webhook_event()"""


def upgrade() -> None:
    op.create_table(
        "partners",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("contact", sa.String(200), nullable=False),
        sa.Column("allowed_reasons", sa.JSON(), nullable=False),
        sa.Column("allowed_kecamatan", sa.JSON(), nullable=True),
        sa.Column("rate_limit_per_minute", sa.Integer(), nullable=False),
        sa.Column("callback_url", sa.String(500), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "partner_secrets",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("partner_id", sa.String(40), sa.ForeignKey("partners.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=True),
        sa.Column("sealed", sa.LargeBinary(), nullable=True),
        sa.Column("key_id", sa.String(40), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_partner_secrets_partner_kind", "partner_secrets", ["partner_id", "kind"])
    op.create_table(
        "webhook_events",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("partner_id", sa.String(40), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("previous_status", sa.String(20), nullable=True),
        sa.Column("occurred_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("leased_until", UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
    )
    op.create_index("ix_webhook_events_due", "webhook_events", ["state", "next_attempt_at"])
    op.create_index("ix_webhook_events_request", "webhook_events", ["request_id", "id"])
    op.create_index("ix_webhook_events_partner", "webhook_events", ["partner_id", "id"])
    op.create_table(
        "webhook_attempts",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column(
            "event_id", sa.BigInteger(), sa.ForeignKey("webhook_events.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("response_snippet", sa.Text(), nullable=True),
        sa.Column("error", sa.String(300), nullable=True),
    )
    op.create_index("ix_webhook_attempts_event_id", "webhook_attempts", ["event_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRES_FUNCTION)
        op.execute(POSTGRES_TRIGGER)
    else:
        for trigger in SQLITE_TRIGGERS:
            op.execute(trigger)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER webhook_event ON print_requests")
        op.execute("DROP FUNCTION webhook_event()")
    else:
        op.execute("DROP TRIGGER webhook_event_on_insert")
        op.execute("DROP TRIGGER webhook_event_on_status")
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_events")
    op.drop_table("partner_secrets")
    op.drop_table("partners")
