"""parked outbox rows, report ordering facts, one dead letter per record

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 03:25:00.000000

- outbox.parked_at / park_reason: a record Kafka will never accept is parked, not retried;
  the unsent index leaves parked rows out.
- users.report_version / report_created_at / report_last_event_at / report_events: the
  ordering facts of the last stored report, so that an older report fetched later is not
  stored over it.
- quarantine: one row per (message id, record) so that a redelivered record is not
  dead-lettered twice while a replay (a new record) can be.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "outbox",
        sa.Column(
            "parked_at",
            sa.DateTime(timezone=True),
            nullable=True,
            comment="set when Kafka refused the record for good (never retried)",
        ),
    )
    op.add_column("outbox", sa.Column("park_reason", sa.Text(), nullable=True))
    op.drop_index("ix_outbox_unsent", table_name="outbox")
    op.create_index(
        "ix_outbox_unsent",
        "outbox",
        ["id"],
        unique=False,
        postgresql_where=sa.text("sent_at IS NULL AND parked_at IS NULL"),
    )
    op.create_index(
        "ix_outbox_parked",
        "outbox",
        ["id"],
        unique=False,
        postgresql_where=sa.text("parked_at IS NOT NULL"),
    )
    op.add_column("users", sa.Column("report_version", sa.Integer(), nullable=True))
    op.add_column(
        "users", sa.Column("report_created_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column(
        "users", sa.Column("report_last_event_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("users", sa.Column("report_events", sa.Integer(), nullable=True))
    op.create_index(
        "uq_quarantine_record",
        "quarantine",
        ["message_id", "topic", "partition", "offset"],
        unique=True,
    )


def downgrade() -> None:
    op.drop_index("uq_quarantine_record", table_name="quarantine")
    op.drop_column("users", "report_events")
    op.drop_column("users", "report_last_event_at")
    op.drop_column("users", "report_created_at")
    op.drop_column("users", "report_version")
    op.drop_index("ix_outbox_parked", table_name="outbox")
    op.drop_index("ix_outbox_unsent", table_name="outbox")
    op.create_index(
        "ix_outbox_unsent",
        "outbox",
        ["id"],
        unique=False,
        postgresql_where=sa.text("sent_at IS NULL"),
    )
    op.drop_column("outbox", "park_reason")
    op.drop_column("outbox", "parked_at")
