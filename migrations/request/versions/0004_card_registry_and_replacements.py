"""card registry and replacements

Revision ID: 0004
Revises: 0003

Every printed card gets a row in ``cards`` (by serial), with its status (cards/states.py); cards already printed
are registered here from their requests. A request may now be ``replaced`` (its card damaged, lost or with wrong
data): ``replaces`` / ``replaced_by`` link the chain, and ``replaced`` is a final status, so the partial unique
index "one active request per NIK" is made again with it among the final statuses. This revision reads and
writes only what 0002 made (``print_requests`` columns, that index), never what 0003 or 0005 add.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.common.models import UTCDateTime

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ACTIVE_BEFORE = "status NOT IN ('collected', 'cancelled', 'rejected')"
ACTIVE_NOW = "status NOT IN ('collected', 'cancelled', 'rejected', 'replaced')"


def _active_nik_index(predicate: str) -> None:
    op.drop_index("uq_print_requests_active_nik", table_name="print_requests")
    op.create_index(
        "uq_print_requests_active_nik",
        "print_requests",
        ["nik"],
        unique=True,
        postgresql_where=sa.text(predicate),
        sqlite_where=sa.text(predicate),
    )


def upgrade() -> None:
    # Plain ADD COLUMN (no batch copy of the table: SQLite keeps the partial indexes as they are).
    op.add_column("print_requests", sa.Column("replaces", sa.String(36), nullable=True))
    op.add_column("print_requests", sa.Column("replaced_by", sa.String(36), nullable=True))
    op.create_index("ix_print_requests_replaces", "print_requests", ["replaces"])
    _active_nik_index(ACTIVE_NOW)

    op.create_table(
        "cards",
        sa.Column("serial", sa.String(40), primary_key=True),
        sa.Column("request_id", sa.String(36), sa.ForeignKey("print_requests.id"), nullable=False),
        sa.Column("nik", sa.String(16), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_note", sa.String(300), nullable=True),
        sa.Column("printed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("replaced_by_request_id", sa.String(36), nullable=True),
        sa.Column("police_report", sa.String(100), nullable=True),
        sa.Column("surrendered_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("surrender_received_by", sa.String(120), nullable=True),
    )
    op.create_index("ix_cards_request_id", "cards", ["request_id"])
    op.create_index("ix_cards_nik", "cards", ["nik"])

    # Cards printed before the registry: one row per serial (the earliest request, should a serial repeat).
    op.execute(
        """
INSERT INTO cards (serial, request_id, nik, status, printed_at, updated_at)
SELECT p.card_serial, p.id, p.nik, p.status, COALESCE(p.printed_at, p.updated_at), p.updated_at
FROM print_requests p
WHERE p.card_serial IS NOT NULL AND p.status IN ('printed', 'activated', 'collected')
  AND NOT EXISTS (
    SELECT 1 FROM print_requests q
    WHERE q.card_serial = p.card_serial AND q.status IN ('printed', 'activated', 'collected') AND q.id < p.id
  )
"""
    )


def downgrade() -> None:
    op.drop_index("ix_cards_nik", table_name="cards")
    op.drop_index("ix_cards_request_id", table_name="cards")
    op.drop_table("cards")
    # A chain's ended requests would break the old index: they count as collected again.
    op.execute("UPDATE print_requests SET status = 'collected' WHERE status = 'replaced'")
    _active_nik_index(ACTIVE_BEFORE)
    op.drop_index("ix_print_requests_replaces", table_name="print_requests")
    # Native DROP COLUMN (PostgreSQL; SQLite ≥ 3.35) rather than a batch copy that could lose the partial indexes.
    op.execute("ALTER TABLE print_requests DROP COLUMN replaced_by")
    op.execute("ALTER TABLE print_requests DROP COLUMN replaces")
