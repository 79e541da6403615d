"""reconciler schedule columns on users

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 03:50:00

The reconciler's per-user schedule: when the user was last checked, how many checks found
nothing new in a row (the backoff step), how many checks were made (the check number in the
reconciler's message ids), and whether the user is gone at Alice. A user is due for a check
when its state is not final; the partial index keeps the due-user scan to those users.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PENDING = sa.text("reconcile_state IS NULL AND last_snapshot_id IS NOT NULL")


def upgrade() -> None:
    op.add_column("users", sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("users", sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column(
        "users",
        sa.Column("checks_without_change", sa.Integer, nullable=False, server_default="0"),
    )
    op.add_column("users", sa.Column("check_count", sa.Integer, nullable=False, server_default="0"))
    op.add_column(
        "users",
        sa.Column(
            "reconcile_state",
            sa.Text,
            nullable=True,
            comment="null: reconciled while not final; deleted_upstream: gone at Alice",
        ),
    )
    op.add_column(
        "users", sa.Column("deleted_upstream_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index("ix_users_reconcile_pending", "users", ["state"], postgresql_where=PENDING)


def downgrade() -> None:
    op.drop_index("ix_users_reconcile_pending", table_name="users", postgresql_where=PENDING)
    for column in (
        "deleted_upstream_at",
        "reconcile_state",
        "check_count",
        "checks_without_change",
        "last_checked_at",
        "next_check_at",
    ):
        op.drop_column("users", column)
