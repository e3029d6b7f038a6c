"""proposal review: a kecamatan's batch waits for the office's decision, row by row (batch_decisions)

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.common.models import UTCDateTime

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("print_requests", sa.Column("batch_row", sa.Integer(), nullable=True))
    op.add_column("batches", sa.Column("approved_rows", sa.Integer(), nullable=False, server_default=sa.text("0")))
    op.add_column("batches", sa.Column("declined_rows", sa.Integer(), nullable=False, server_default=sa.text("0")))
    op.add_column("batches", sa.Column("decided_by", sa.String(200), nullable=True))
    op.add_column("batches", sa.Column("decided_at", UTCDateTime(timezone=True), nullable=True))
    op.create_table(
        "batch_decisions",
        sa.Column("id", BIGINT_PK, primary_key=True, autoincrement=True),
        sa.Column("batch_id", sa.String(36), sa.ForeignKey("batches.id", ondelete="CASCADE"), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("decision", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(300), nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=False),
        sa.Column("decided_role", sa.String(20), nullable=False),
        sa.Column("decided_at", UTCDateTime(timezone=True), nullable=False),
    )
    op.create_index("uq_batch_decisions_row", "batch_decisions", ["batch_id", "row"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_batch_decisions_row", table_name="batch_decisions")
    op.drop_table("batch_decisions")
    for column in ("decided_at", "decided_by", "declined_rows", "approved_rows"):
        op.drop_column("batches", column)
    op.drop_column("print_requests", "batch_row")
