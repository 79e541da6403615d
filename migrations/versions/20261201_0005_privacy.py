"""privacy: the append-only audit table of personal-data operations (erase, export, tools)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 04:00:00

The lead fixes `down_revision` at merge (the reconciler adds 0003 in parallel).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Append-only for everyone but the table's owner: UPDATE, DELETE and TRUNCATE are refused by
# triggers, so neither the runtime role nor a bug can rewrite the record of who did what.
APPEND_ONLY = (
    "CREATE FUNCTION privacy_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$"
    " BEGIN RAISE EXCEPTION 'privacy_audit is append-only'"
    " USING ERRCODE = 'insufficient_privilege'; END $$",
    "CREATE TRIGGER privacy_audit_no_update BEFORE UPDATE OR DELETE ON privacy_audit"
    " FOR EACH ROW EXECUTE FUNCTION privacy_audit_append_only()",
    "CREATE TRIGGER privacy_audit_no_truncate BEFORE TRUNCATE ON privacy_audit"
    " FOR EACH STATEMENT EXECUTE FUNCTION privacy_audit_append_only()",
)


def upgrade() -> None:
    op.create_table(
        "privacy_audit",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("action", sa.Text, nullable=False, comment="erase, export, replay-dlq, ..."),
        sa.Column("actor", sa.Text, nullable=False, comment="operator, or kafka:<topic>"),
        sa.Column("subject", sa.Text, nullable=True, comment="the user id, when one user"),
        sa.Column("request_id", sa.Text, nullable=True, comment="which request asked for it"),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("counts", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column(
            "at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")
        ),
        sa.PrimaryKeyConstraint("id", name="pk_privacy_audit"),
    )
    op.create_index("ix_privacy_audit_at", "privacy_audit", ["at"])
    # The erasure tombstone is the latest `erase` row of a user (service/privacy/tombstones.py).
    op.create_index(
        "ix_privacy_audit_erased_subject",
        "privacy_audit",
        ["subject", "at"],
        postgresql_where=sa.text("action = 'erase'"),
    )
    for statement in APPEND_ONLY:
        op.execute(statement)


def downgrade() -> None:
    op.execute("DROP TABLE privacy_audit")
    op.execute("DROP FUNCTION privacy_audit_append_only()")
