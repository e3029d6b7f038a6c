"""personal data: photo and signature sealed with a data key (data_key_id; NULL: written before encryption),
emptied after the retention window (images_purged_at), and every look at a resident's record (access_events)

Revision ID: 0007
Revises: 0006

Rows written before this revision keep their plain images until `ektp keys rotate-data` seals them
(docs/privacy.md); the service reads both until then.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.common.models import UTCDateTime

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # No batch mode: recreating print_requests on SQLite would put its partial indexes at risk. A purged image is
    # empty (zero bytes), so the columns stay NOT NULL.
    op.add_column("print_requests", sa.Column("data_key_id", sa.String(32), nullable=True))
    op.add_column("print_requests", sa.Column("images_purged_at", UTCDateTime(timezone=True), nullable=True))
    op.create_index("ix_print_requests_data_key_id", "print_requests", ["data_key_id"])
    op.create_table(
        "access_events",
        sa.Column("id", BIGINT_PK, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("actor_role", sa.String(20), nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=True),
        sa.Column("nik", sa.String(16), nullable=True),
        sa.Column("purpose", sa.String(200), nullable=True),
    )
    op.create_index("ix_access_events_request_id", "access_events", ["request_id"])
    op.create_index("ix_access_events_nik", "access_events", ["nik"])
    op.create_index("ix_access_events_actor_at", "access_events", ["actor", "at"])


def downgrade() -> None:
    op.drop_index("ix_access_events_actor_at", table_name="access_events")
    op.drop_index("ix_access_events_nik", table_name="access_events")
    op.drop_index("ix_access_events_request_id", table_name="access_events")
    op.drop_table("access_events")
    op.drop_index("ix_print_requests_data_key_id", table_name="print_requests")
    op.drop_column("print_requests", "images_purged_at")
    op.drop_column("print_requests", "data_key_id")
