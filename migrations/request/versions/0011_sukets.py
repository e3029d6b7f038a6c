"""sukets: the Surat Keterangan pengganti KTP-el issued while a resident waits for the card, and its yearly counter

Revision ID: 0011
Revises: 0010

One valid Suket per request, enforced by a partial unique index (``status = 'valid'``); its register number is
sequential per year, drawn from ``suket_counters`` (one row per year, incremented under its row lock).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.common.models import UTCDateTime

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "suket_counters",
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
    )
    op.create_table(
        "sukets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("number", sa.String(60), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(36), sa.ForeignKey("print_requests.id"), nullable=False),
        sa.Column("kecamatan_code", sa.String(8), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("issued_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("verification_code", sa.String(64), nullable=False),
        sa.Column("issued_by", sa.String(200), nullable=False),
        sa.Column("withdrawn_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("withdrawn_by", sa.String(200), nullable=True),
        sa.Column("withdrawal_reason", sa.String(300), nullable=True),
    )
    op.create_index("uq_sukets_number", "sukets", ["number"], unique=True)
    op.create_index("uq_sukets_year_seq", "sukets", ["year", "seq"], unique=True)
    op.create_index("uq_sukets_verification_code", "sukets", ["verification_code"], unique=True)
    op.create_index("ix_sukets_request_id", "sukets", ["request_id"])
    op.create_index("ix_sukets_issued_on", "sukets", ["issued_on", "id"])
    op.create_index("ix_sukets_kecamatan_status", "sukets", ["kecamatan_code", "status", "valid_until"])
    op.create_index(
        "uq_sukets_valid_request",
        "sukets",
        ["request_id"],
        unique=True,
        postgresql_where=sa.text("status = 'valid'"),
        sqlite_where=sa.text("status = 'valid'"),
    )


def downgrade() -> None:
    op.drop_table("sukets")
    op.drop_table("suket_counters")
