"""mobile visits: the office's figures per desa, the mobile unit's confirmed visits and their desa, and the visit
a print request was brought by

Revision ID: 0012
Revises: 0011

``print_requests.mobile_visit_id`` is a plain indexed column, no foreign key: SQLite cannot add one to an existing
table without rebuilding it (services/request/mobile/models.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.common.models import BigIntPK, UTCDateTime

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "desa_figures",
        sa.Column("village_code", sa.String(13), primary_key=True),
        sa.Column("kecamatan_code", sa.String(8), nullable=False),
        sa.Column("obliged", sa.Integer(), nullable=False),
        sa.Column("recorded", sa.Integer(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
    )
    op.create_index("ix_desa_figures_kecamatan_code", "desa_figures", ["kecamatan_code"])
    op.create_table(
        "mobile_visits",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("visit_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("team", sa.String(200), nullable=False),
        sa.Column("notes", sa.String(500), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("outcome_by", sa.String(200), nullable=True),
        sa.Column("outcome_at", UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_mobile_visits_date", "mobile_visits", ["visit_date", "id"])
    op.create_table(
        "mobile_visit_desa",
        sa.Column("id", BigIntPK, primary_key=True, autoincrement=True),
        sa.Column("visit_id", sa.String(36), sa.ForeignKey("mobile_visits.id", ondelete="CASCADE"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("village_code", sa.String(13), nullable=False),
        sa.Column("kecamatan_code", sa.String(8), nullable=False),
        sa.Column("expected", sa.Integer(), nullable=False),
        sa.Column("recorded", sa.Integer(), nullable=True),
    )
    op.create_index("uq_mobile_visit_desa", "mobile_visit_desa", ["visit_id", "village_code"], unique=True)
    op.create_index("ix_mobile_visit_desa_village_code", "mobile_visit_desa", ["village_code"])
    op.add_column("print_requests", sa.Column("mobile_visit_id", sa.String(36), nullable=True))
    op.create_index("ix_print_requests_mobile_visit_id", "print_requests", ["mobile_visit_id"])


def downgrade() -> None:
    op.drop_index("ix_print_requests_mobile_visit_id", table_name="print_requests")
    # Native DROP COLUMN (PostgreSQL; SQLite ≥ 3.35): a batch copy would lose the partial indexes and triggers.
    op.execute("ALTER TABLE print_requests DROP COLUMN mobile_visit_id")
    op.drop_table("mobile_visit_desa")
    op.drop_table("mobile_visits")
    op.drop_table("desa_figures")
