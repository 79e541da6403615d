"""The history's reads: the user, its snapshots, where their records came from, its outbox rows.

`load_snapshots` is the one place that reads snapshot bodies (`report_snapshots.report`): when
the bodies are stored encrypted, the decrypting read goes here and nowhere else.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.history.records import Location, OutboxRecord, StoredSnapshot, UserRecord


async def load_user(connection: AsyncConnection, user_id: str) -> UserRecord | None:
    """The user's row, or None when the service holds no such user."""
    row = (
        await connection.execute(
            text(
                "SELECT state, reconcile_state, deleted_upstream_at FROM users"
                " WHERE user_id = CAST(:u AS uuid)"
            ),
            {"u": user_id},
        )
    ).first()
    if row is None:
        return None
    return UserRecord(user_id, row.state, row.reconcile_state, row.deleted_upstream_at)


def _report(value: Any) -> dict[str, Any]:
    # asyncpg returns JSONB as text unless a codec is set; SQLAlchemy's JSONB type decodes it.
    document = json.loads(value) if isinstance(value, (str, bytes)) else value
    return document if isinstance(document, dict) else {}


async def load_snapshots(connection: AsyncConnection, user_id: str) -> list[StoredSnapshot]:
    """Every stored snapshot of the user with its report body, oldest first."""
    rows = await connection.execute(
        text(
            "SELECT id, report_id, state, message_id, stored_at, report_created_at, report"
            " FROM report_snapshots WHERE user_id = CAST(:u AS uuid) ORDER BY id"
        ),
        {"u": user_id},
    )
    return [
        StoredSnapshot(
            id=int(row.id),
            report_id=str(row.report_id),
            state=row.state,
            message_id=row.message_id,
            stored_at=row.stored_at,
            report_created_at=row.report_created_at,
            report=_report(row.report),
        )
        for row in rows
    ]


async def load_sources(
    connection: AsyncConnection, message_ids: Sequence[str]
) -> tuple[dict[str, Location], dict[str, frozenset[Location]]]:
    """Where each record was read (inbox) and where each was dead-lettered (quarantine)."""
    ids = list(message_ids)
    inbox = await connection.execute(
        text(
            'SELECT message_id, topic, partition, "offset" FROM inbox'
            " WHERE message_id = ANY(CAST(:m AS text[]))"
        ),
        {"m": ids},
    )
    found = {r.message_id: Location(r.topic, int(r.partition), int(r.offset)) for r in inbox}
    quarantine = await connection.execute(
        text(
            'SELECT message_id, topic, partition, "offset" FROM quarantine'
            " WHERE message_id = ANY(CAST(:m AS text[]))"
        ),
        {"m": ids},
    )
    dead: dict[str, set[Location]] = {}
    for r in quarantine:
        dead.setdefault(r.message_id, set()).add(Location(r.topic, int(r.partition), int(r.offset)))
    return found, {k: frozenset(v) for k, v in dead.items()}


async def load_outbox(connection: AsyncConnection, user_id: str) -> list[OutboxRecord]:
    """The user's outbox rows still kept (derived events and dead letters), in queue order."""
    rows = await connection.execute(
        text(
            "SELECT event_id, event_type, created_at, sent_at, parked_at FROM outbox"
            " WHERE user_id = CAST(:u AS uuid) ORDER BY id"
        ),
        {"u": user_id},
    )
    return [
        OutboxRecord(str(r.event_id), r.event_type, r.created_at, r.sent_at, r.parked_at)
        for r in rows
    ]
