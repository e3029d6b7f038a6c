"""returned cards custody

Revision ID: 0004
Revises: 0003

Old e-KTP cards handed back at the office (replaced, damaged, lost and found) are kept by the inventory until
they are destroyed before a witness: ``returned_cards``, one row per card serial.
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


def upgrade() -> None:
    op.create_table(
        "returned_cards",
        sa.Column("serial", sa.String(40), primary_key=True),
        sa.Column("request_id", sa.String(100), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("received_by", sa.String(120), nullable=False),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.String(300), nullable=True),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("destroyed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("destroyed_by", sa.String(200), nullable=True),
        sa.Column("witness", sa.String(200), nullable=True),
    )
    op.create_index("ix_returned_cards_state", "returned_cards", ["state"])
    op.create_index("ix_returned_cards_received_at", "returned_cards", ["received_at"])
    op.create_index("ix_returned_cards_destroyed_at", "returned_cards", ["destroyed_at"])


def downgrade() -> None:
    op.drop_index("ix_returned_cards_destroyed_at", table_name="returned_cards")
    op.drop_index("ix_returned_cards_received_at", table_name="returned_cards")
    op.drop_index("ix_returned_cards_state", table_name="returned_cards")
    op.drop_table("returned_cards")
