"""running balances on the stock_lock row, blanks used per day, overdue-reservation index

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29 05:15:00

The grant path used to count every available blank (``COUNT(*)`` over ``blanks``) and every open reservation
while it held the stock lock, and the reorder check summed a month of movements after each used blank. Now the
one ``stock_lock`` row carries ``unused`` and ``reserved``, updated in the same transaction as each change, and
``usage_days`` counts the blanks used per UTC day. ``GET /v1/stock/invariant`` checks both against the blanks'
states, the reservations and the movements. Existing data is counted once here.
"""

from collections import Counter
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from services.common.models import UTCDateTime

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("stock_lock", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unused", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("reserved", sa.Integer(), server_default="0", nullable=False))
    usage_days = op.create_table(
        "usage_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("used", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.create_index("ix_reservations_status_expires_at", ["status", "expires_at"], unique=False)

    # Count what is on record (nothing on a fresh database).
    op.execute(
        "UPDATE stock_lock SET "
        "unused = (SELECT count(*) FROM blanks WHERE state = 'available'), "
        "reserved = (SELECT count(*) FROM reservations WHERE status IN ('reserved', 'held')) "
        "WHERE id = 1"
    )
    movements = sa.table("movements", sa.column("at", UTCDateTime()), sa.column("kind"), sa.column("quantity"))
    used: Counter = Counter()
    rows = op.get_bind().execute(
        sa.select(movements.c.at, movements.c.quantity).where(movements.c.kind.in_(("consumed", "spoiled")))
    )
    for at, quantity in rows:
        used[at.date()] += int(quantity or 0)
    if used:
        op.bulk_insert(usage_days, [{"day": day, "used": n} for day, n in sorted(used.items())])


def downgrade() -> None:
    with op.batch_alter_table("reservations", schema=None) as batch_op:
        batch_op.drop_index("ix_reservations_status_expires_at")
    op.drop_table("usage_days")
    with op.batch_alter_table("stock_lock", schema=None) as batch_op:
        batch_op.drop_column("reserved")
        batch_op.drop_column("unused")
