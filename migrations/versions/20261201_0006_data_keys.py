"""crypto-shredding: per-user wrapped data keys, sealed columns beside the clear ones

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 06:30:00

`data_keys` holds one wrapped data key per user (and the id of the KEK that wrapped it).
Report bodies, user events and quarantined inputs are now written sealed (service/crypto/):
`report_snapshots.report_sealed` and `user_events.event_sealed` take them, and the JSONB
columns `report` and `event` become nullable (they keep rows written before this revision,
read as they are). Quarantine rows whose `sealed_for` names a user hold `input_value` and
`report_body` sealed under that user's key. Adding nullable columns rewrites no table.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import BYTEA, JSONB, UUID

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The ALTERs below take brief exclusive locks: fail fast (and let the Job retry) rather
    # than queue behind a long scan with the running service's writes queued behind them.
    op.execute("SET LOCAL lock_timeout = '5s'")
    op.create_table(
        "data_keys",
        sa.Column("user_id", UUID(as_uuid=False), nullable=False),
        sa.Column("kek_id", sa.Text, nullable=False, comment="the KEK that wrapped the key"),
        sa.Column("wrapped", BYTEA, nullable=False, comment="AES-GCM of the 32-byte data key"),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.PrimaryKeyConstraint("user_id", name="pk_data_keys"),
    )
    op.create_index("ix_data_keys_kek_id", "data_keys", ["kek_id"])
    op.add_column(
        "report_snapshots",
        sa.Column("report_sealed", BYTEA, nullable=True, comment="the response body, sealed"),
    )
    op.alter_column("report_snapshots", "report", existing_type=JSONB, nullable=True)
    op.add_column(
        "user_events",
        sa.Column("event_sealed", BYTEA, nullable=True, comment="the event object, sealed"),
    )
    op.alter_column("user_events", "event", existing_type=JSONB, nullable=True)
    op.add_column(
        "quarantine",
        sa.Column(
            "sealed_for",
            UUID(as_uuid=False),
            nullable=True,
            comment="input_value and report_body are sealed under this user's data key",
        ),
    )


def downgrade() -> None:
    # Sealed rows cannot go back into the clear columns without the keys, and older code would
    # read sealed quarantine bytes as clear ones: refuse rather than drop or misread them.
    sealed = op.get_bind().execute(
        sa.text(
            "SELECT EXISTS (SELECT 1 FROM report_snapshots WHERE report_sealed IS NOT NULL)"
            " OR EXISTS (SELECT 1 FROM user_events WHERE event_sealed IS NOT NULL)"
            " OR EXISTS (SELECT 1 FROM quarantine WHERE sealed_for IS NOT NULL)"
        )
    )
    if sealed.scalar():
        raise RuntimeError(
            "0006 cannot be downgraded: sealed rows exist (they would be lost); restore a"
            " backup taken before the upgrade instead"
        )
    op.drop_column("quarantine", "sealed_for")
    op.execute("DELETE FROM user_events WHERE event IS NULL")
    op.drop_column("user_events", "event_sealed")
    op.alter_column("user_events", "event", existing_type=JSONB, nullable=False)
    op.execute("DELETE FROM report_snapshots WHERE report IS NULL")
    op.drop_column("report_snapshots", "report_sealed")
    op.alter_column("report_snapshots", "report", existing_type=JSONB, nullable=False)
    op.drop_table("data_keys")
