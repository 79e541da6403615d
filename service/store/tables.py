"""SQLAlchemy Core tables of the service; Alembic's migrations create the same schema.

Kept apart from the pydantic report model: the database holds typed columns for what people
query plus the report as JSONB, and nothing here knows about Kafka or HTTP.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import BYTEA, JSONB, UUID

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
    }
)

NOW = sa.text("now()")

users = sa.Table(
    "users",
    metadata,
    sa.Column("user_id", UUID(as_uuid=False), primary_key=True),
    sa.Column("state", sa.Text, nullable=True, comment="user state of the last snapshot"),
    sa.Column("last_snapshot_id", sa.BigInteger, nullable=True),
    sa.Column("last_content_hash", BYTEA, nullable=True),
    sa.Column(
        "digest",
        JSONB,
        nullable=True,
        comment="what derivation compares: state, results, document/selfie ids, open risks",
    ),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    # The ordering facts of the last stored report (see service/freshness.py).
    sa.Column("report_version", sa.Integer, nullable=True),
    sa.Column("report_created_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("report_last_event_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("report_events", sa.Integer, nullable=True),
    # The reconciler's schedule (migration 0004; see service/reconciler/).
    sa.Column("next_check_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_checked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("checks_without_change", sa.Integer, nullable=False, server_default="0"),
    sa.Column("check_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column(
        "reconcile_state",
        sa.Text,
        nullable=True,
        comment="null: reconciled while not final; deleted_upstream: gone at Alice",
    ),
    sa.Column("deleted_upstream_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index(
        "ix_users_reconcile_pending",
        "state",
        postgresql_where=sa.text("reconcile_state IS NULL AND last_snapshot_id IS NOT NULL"),
    ),
)

report_snapshots = sa.Table(
    "report_snapshots",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("user_id", UUID(as_uuid=False), nullable=False),
    sa.Column("report_id", UUID(as_uuid=False), nullable=False),
    sa.Column("state", sa.Text, nullable=True),
    sa.Column("selfie_security", sa.Text, nullable=True),
    sa.Column("document_security", sa.Text, nullable=True),
    sa.Column("document_read", sa.Text, nullable=True),
    sa.Column("process_security", sa.Text, nullable=True),
    sa.Column("face_liveness", sa.Numeric(6, 3), nullable=True),
    sa.Column("report_created_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("content_hash", BYTEA, nullable=False),
    sa.Column(
        "report", JSONB, nullable=True, comment="the report object, rows before migration 0006"
    ),
    sa.Column("report_sealed", BYTEA, nullable=True, comment="the response body, sealed"),
    sa.Column("message_id", sa.Text, nullable=False, comment="inbox id of the message"),
    sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.Index(None, "user_id", sa.text("id DESC")),
    sa.Index(None, "report_id"),
    sa.Index(None, "state", "stored_at"),
)

user_events = sa.Table(
    "user_events",
    metadata,
    sa.Column("event_id", sa.Text, primary_key=True),
    sa.Column("user_id", UUID(as_uuid=False), nullable=False),
    sa.Column("type", sa.Text, nullable=False),
    sa.Column("occurred_on", sa.DateTime(timezone=True), nullable=True),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("event", JSONB, nullable=True, comment="the event object, rows before 0006"),
    sa.Column("event_sealed", BYTEA, nullable=True, comment="the event object, sealed"),
    sa.Column("first_snapshot_id", sa.BigInteger, nullable=False),
    sa.Index(None, "user_id", "occurred_on"),
)

inbox = sa.Table(
    "inbox",
    metadata,
    sa.Column(
        "message_id", sa.Text, primary_key=True, comment="event_id or topic:partition:offset"
    ),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("partition", sa.Integer, nullable=False),
    sa.Column("offset", sa.BigInteger, nullable=False),
    sa.Column("user_id", UUID(as_uuid=False), nullable=True),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("snapshot_id", sa.BigInteger, nullable=True),
    sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.Index(None, "processed_at"),
)

outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column(
        "event_id",
        UUID(as_uuid=False),
        nullable=False,
        unique=True,
        comment="deterministic id: the CloudEvents ce_id, or the dead letter's id",
    ),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("key", BYTEA, nullable=True),
    sa.Column("headers", JSONB, nullable=False, comment="[[name, value], ...]"),
    sa.Column("payload", BYTEA, nullable=True, comment="the exact record value to publish"),
    sa.Column("event_type", sa.Text, nullable=False, comment="ce_type, or dead_letter"),
    sa.Column("user_id", UUID(as_uuid=False), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column(
        "parked_at",
        sa.DateTime(timezone=True),
        nullable=True,
        comment="set when Kafka refused the record for good (never retried)",
    ),
    sa.Column("park_reason", sa.Text, nullable=True),
    sa.Index(
        "ix_outbox_unsent", "id", postgresql_where=sa.text("sent_at IS NULL AND parked_at IS NULL")
    ),
    sa.Index("ix_outbox_parked", "id", postgresql_where=sa.text("parked_at IS NOT NULL")),
    sa.Index("ix_outbox_sent_at", "sent_at", postgresql_where=sa.text("sent_at IS NOT NULL")),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("message_id", sa.Text, nullable=False),
    sa.Column("topic", sa.Text, nullable=False),
    sa.Column("partition", sa.Integer, nullable=False),
    sa.Column("offset", sa.BigInteger, nullable=False),
    sa.Column("user_id", sa.Text, nullable=True, comment="as received; may not be a UUID"),
    sa.Column("error_code", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("input_key", BYTEA, nullable=True),
    sa.Column("input_value", BYTEA, nullable=True),
    sa.Column("report_body", BYTEA, nullable=True, comment="raw report that failed validation"),
    sa.Column(
        "sealed_for",
        UUID(as_uuid=False),
        nullable=True,
        comment="input_value and report_body are sealed under this user's data key",
    ),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.Index(None, "message_id"),
    sa.Index(None, "created_at"),
    # One dead letter per record: a redelivered record is not dead-lettered twice.
    sa.Index("uq_quarantine_record", "message_id", "topic", "partition", "offset", unique=True),
)

data_keys = sa.Table(
    "data_keys",
    metadata,
    sa.Column("user_id", UUID(as_uuid=False), primary_key=True),
    sa.Column("kek_id", sa.Text, nullable=False, comment="the KEK that wrapped the key"),
    sa.Column("wrapped", BYTEA, nullable=False, comment="AES-GCM of the 32-byte data key"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
    sa.Index(None, "kek_id"),
)
