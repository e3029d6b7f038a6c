"""audit hash chain: each audit row keeps its seq, the previous row's hash and its own, sealed by the database

Revision ID: 0006
Revises: 0005

Existing rows are sealed in id order; from then on the database seals each new row (services.common.audit).
On SQLite a batch operation that recreates audit_events drops its trigger: install the chain again after one.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.common.audit_chain import install_chain, remove_chain

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    install_chain(op.get_bind())


def downgrade() -> None:
    remove_chain(op.get_bind())
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")
