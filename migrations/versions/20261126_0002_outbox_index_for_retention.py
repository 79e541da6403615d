"""outbox index for retention

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 15:40:44.386028
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_outbox_sent_at",
        "outbox",
        ["sent_at"],
        unique=False,
        postgresql_where=sa.text("sent_at IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "ix_outbox_sent_at", table_name="outbox", postgresql_where=sa.text("sent_at IS NOT NULL")
    )
