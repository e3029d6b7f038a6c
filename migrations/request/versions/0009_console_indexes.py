"""console indexes: the office console's reads of a whole regency (250,000 requests) under 200 ms

Revision ID: 0009
Revises: 0008

Measured by bench/bench_console.py, each found with EXPLAIN ANALYZE on PostgreSQL 15:

- ix_print_requests_nik: a NIK search read the whole table (the partial unique index holds only the active
  request; most residents' are collected).
- ix_print_requests_printed_at: the queue stats' cards printed today read the whole table.
- ix_print_requests_status_overdue (status, reason, created_at, priority, kecamatan_code) replaces
  ix_print_requests_status: the queue stats by status and priority and the overdue counts (coverage, stats) read
  it alone instead of the 41,000 queued rows.
- ix_print_requests_created_kecamatan (created_at, kecamatan_code) replaces ix_print_requests_created_at: a
  kecamatan's list, newest first, skips the other kecamatan in the index instead of in the table. Both cannot
  stay: PostgreSQL costs them alike and kept the old one.

Plain CREATE INDEX (not CONCURRENTLY): it holds writes to print_requests for the seconds it takes.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "print_requests"


def upgrade() -> None:
    op.create_index("ix_print_requests_nik", TABLE, ["nik"])
    op.create_index("ix_print_requests_printed_at", TABLE, ["printed_at"])
    op.create_index(
        "ix_print_requests_status_overdue", TABLE, ["status", "reason", "created_at", "priority", "kecamatan_code"]
    )
    op.drop_index("ix_print_requests_status", table_name=TABLE)
    op.create_index("ix_print_requests_created_kecamatan", TABLE, ["created_at", "kecamatan_code"])
    op.drop_index("ix_print_requests_created_at", table_name=TABLE)


def downgrade() -> None:
    op.create_index("ix_print_requests_created_at", TABLE, ["created_at"])
    op.drop_index("ix_print_requests_created_kecamatan", table_name=TABLE)
    op.create_index("ix_print_requests_status", TABLE, ["status"])
    op.drop_index("ix_print_requests_status_overdue", table_name=TABLE)
    op.drop_index("ix_print_requests_printed_at", table_name=TABLE)
    op.drop_index("ix_print_requests_nik", table_name=TABLE)
