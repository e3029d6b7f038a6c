"""queue lanes by channel: a kecamatan's batch rows and its desk's requests in separate lanes; coverage's
cards handed over before the system's records

Revision ID: 0003
Revises: 0002

A lane was (priority, kecamatan); it is now (priority, source, kecamatan), ``source`` being ``batch`` (a
kecamatan's proposals) or ``direct`` (walk-ins, partners, mobile units). The old lanes carry over as both: the
batch lane keeps the old last key (a new batch still queues behind the backlog), the direct lane restarts after
the last request submitted one by one, so a walk-in no longer waits behind a batch queued before this migration.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A request submitted one by one: no batch, and not a kecamatan's proposal (queue/policy.py, lane_source).
DIRECT_KEYS = """
COALESCE((SELECT MAX(p.queue_key) FROM print_requests AS p
          WHERE p.priority = old.priority AND p.kecamatan_code = old.kecamatan_code
            AND p.batch_id IS NULL AND p.channel <> 'kecamatan_batch'), 0)
"""


def upgrade() -> None:
    # A new table rather than ALTER: SQLite cannot change a primary key in place. The primary key is named, so
    # that PostgreSQL's queue_lanes_pkey (still on the renamed table) is no clash.
    op.rename_table("queue_lanes", "queue_lanes_0002")
    op.create_table(
        "queue_lanes",
        sa.Column("priority", sa.String(10), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("kecamatan_code", sa.String(8), nullable=False),
        sa.Column("last_key", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("priority", "source", "kecamatan_code", name="pk_queue_lanes_by_source"),
    )
    op.execute(
        "INSERT INTO queue_lanes (priority, source, kecamatan_code, last_key) "
        "SELECT priority, 'batch', kecamatan_code, last_key FROM queue_lanes_0002"
    )
    op.execute(
        "INSERT INTO queue_lanes (priority, source, kecamatan_code, last_key) "
        f"SELECT old.priority, 'direct', old.kecamatan_code, {DIRECT_KEYS} FROM queue_lanes_0002 AS old"  # noqa: S608
    )
    op.drop_table("queue_lanes_0002")

    op.add_column(
        "coverage_figures",
        sa.Column("collected_before", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    with op.batch_alter_table("coverage_figures") as batch:
        batch.drop_column("collected_before")

    op.rename_table("queue_lanes", "queue_lanes_0003")
    op.create_table(
        "queue_lanes",
        sa.Column("priority", sa.String(10), primary_key=True),
        sa.Column("kecamatan_code", sa.String(8), primary_key=True),
        sa.Column("last_key", sa.BigInteger(), nullable=False),
    )
    op.execute(
        "INSERT INTO queue_lanes (priority, kecamatan_code, last_key) "
        "SELECT priority, kecamatan_code, MAX(last_key) FROM queue_lanes_0003 GROUP BY priority, kecamatan_code"
    )
    op.drop_table("queue_lanes_0003")
