"""The history's reads: the user, its snapshots, where their records came from, its outbox rows.

`load_snapshots` is the one place that reads snapshot bodies: sealed under the user's data key
(or clear JSONB from before migration 0006), opened by `service.crypto.Unsealer`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.crypto import Unsealer
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


async def load_snapshots(
    connection: AsyncConnection, user_id: str, unsealer: Unsealer
) -> list[StoredSnapshot]:
    """Every stored snapshot of the user with its report body (decrypted), oldest first."""
    result = await connection.execute(
        text(
            "SELECT id, user_id, report_id, state, message_id, stored_at, report_created_at,"
            " report, report_sealed"
            " FROM report_snapshots WHERE user_id = CAST(:u AS uuid) ORDER BY id"
        ),
        {"u": user_id},
    )
    rows = [dict(row) for row in result.mappings()]
    reports = await unsealer.snapshot_reports(connection, rows)
    return [
        StoredSnapshot(
            id=int(row["id"]),
            report_id=str(row["report_id"]),
            state=row["state"],
            message_id=row["message_id"],
            stored_at=row["stored_at"],
            report_created_at=row["report_created_at"],
            report=report,
        )
        for row, report in zip(rows, reports, strict=True)
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
