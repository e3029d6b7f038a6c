"""print requests, queue jobs and lanes, batches, coverage figures

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 05:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.common.models import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGINT_PK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
FINAL = "status NOT IN ('collected', 'cancelled', 'rejected')"


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("content_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("filename", sa.String(200), nullable=True),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("accepted_rows", sa.Integer(), nullable=False),
        sa.Column("rejected_rows", sa.Integer(), nullable=False),
        sa.Column("submitted_by", sa.String(200), nullable=False),
        sa.Column("submitter_role", sa.String(20), nullable=False),
        sa.Column("scope", sa.String(400), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_batches_submitted_by", "batches", ["submitted_by"])

    op.create_table(
        "batch_errors",
        sa.Column("id", BIGINT_PK, primary_key=True, autoincrement=True),
        sa.Column("batch_id", sa.String(36), sa.ForeignKey("batches.id", ondelete="CASCADE"), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(60), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
    )
    op.create_index("ix_batch_errors_batch_id", "batch_errors", ["batch_id"])

    op.create_table(
        "print_requests",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("nik", sa.String(16), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("birth_place", sa.String(60), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=False),
        sa.Column("sex", sa.String(1), nullable=False),
        sa.Column("blood_type", sa.String(3), nullable=False),
        sa.Column("address", sa.String(200), nullable=False),
        sa.Column("rt", sa.String(3), nullable=False),
        sa.Column("rw", sa.String(3), nullable=False),
        sa.Column("village_code", sa.String(13), nullable=False),
        sa.Column("kecamatan_code", sa.String(8), nullable=False),
        sa.Column("religion", sa.String(40), nullable=False),
        sa.Column("marital_status", sa.String(20), nullable=False),
        sa.Column("occupation", sa.String(60), nullable=False),
        sa.Column("citizenship", sa.String(3), nullable=False),
        sa.Column("valid_until", sa.String(20), nullable=False),
        sa.Column("photo", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("priority", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(30), nullable=False),
        sa.Column("reason_note", sa.String(300), nullable=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("old_ktp_seen", sa.Boolean(), nullable=False),
        sa.Column("kk_copy_seen", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_note", sa.String(300), nullable=True),
        sa.Column("queue_key", sa.BigInteger(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.String(80), nullable=True),
        sa.Column("printer_id", sa.String(80), nullable=True),
        sa.Column("lease_expires_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("card_serial", sa.String(40), nullable=True),
        sa.Column("received_by", sa.String(120), nullable=True),
        sa.Column("batch_id", sa.String(36), sa.ForeignKey("batches.id"), nullable=True),
        sa.Column("submitted_by", sa.String(200), nullable=False),
        sa.Column("submitter_role", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("printed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("activated_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("collected_at", UTCDateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_print_requests_queue",
        "print_requests",
        ["queue_key", "id"],
        postgresql_where=sa.text("status = 'queued'"),
        sqlite_where=sa.text("status = 'queued'"),
    )
    op.create_index(
        "uq_print_requests_active_nik",
        "print_requests",
        ["nik"],
        unique=True,
        postgresql_where=sa.text(FINAL),
        sqlite_where=sa.text(FINAL),
    )
    op.create_index(
        "ix_print_requests_lease",
        "print_requests",
        ["lease_expires_at"],
        postgresql_where=sa.text("status = 'printing'"),
        sqlite_where=sa.text("status = 'printing'"),
    )
    op.create_index("ix_print_requests_kecamatan_status", "print_requests", ["kecamatan_code", "status"])
    op.create_index("ix_print_requests_status", "print_requests", ["status"])
    op.create_index("ix_print_requests_batch_id", "print_requests", ["batch_id"])
    op.create_index("ix_print_requests_submitted_by", "print_requests", ["submitted_by"])
    op.create_index("ix_print_requests_created_at", "print_requests", ["created_at"])

    op.create_table(
        "queue_jobs",
        sa.Column("job_id", sa.String(80), primary_key=True),
        sa.Column("request_id", sa.String(36), sa.ForeignKey("print_requests.id"), nullable=False),
        sa.Column("printer_id", sa.String(80), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("claimed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("lease_expires_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("card_serial", sa.String(40), nullable=True),
        sa.Column("reason", sa.String(300), nullable=True),
        sa.Column("card_used", sa.Boolean(), nullable=True),
    )
    op.create_index("ix_queue_jobs_request_id", "queue_jobs", ["request_id"])

    op.create_table(
        "queue_lanes",
        sa.Column("priority", sa.String(10), primary_key=True),
        sa.Column("kecamatan_code", sa.String(8), primary_key=True),
        sa.Column("last_key", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "queue_capacity",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("cards_per_hour", sa.Float(), nullable=False),
        sa.Column("printers", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
    )
    op.create_table(
        "coverage_figures",
        sa.Column("kecamatan_code", sa.String(8), primary_key=True),
        sa.Column("obliged", sa.Integer(), nullable=False),
        sa.Column("recorded", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("coverage_figures")
    op.drop_table("queue_capacity")
    op.drop_table("queue_lanes")
    op.drop_index("ix_queue_jobs_request_id", table_name="queue_jobs")
    op.drop_table("queue_jobs")
    for name in (
        "ix_print_requests_created_at",
        "ix_print_requests_submitted_by",
        "ix_print_requests_batch_id",
        "ix_print_requests_status",
        "ix_print_requests_kecamatan_status",
        "ix_print_requests_lease",
        "uq_print_requests_active_nik",
        "ix_print_requests_queue",
    ):
        op.drop_index(name, table_name="print_requests")
    op.drop_table("print_requests")
    op.drop_index("ix_batch_errors_batch_id", table_name="batch_errors")
    op.drop_table("batch_errors")
    op.drop_index("ix_batches_submitted_by", table_name="batches")
    op.drop_table("batches")
