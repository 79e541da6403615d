"""The audit trail of personal-data operations: one append-only row per erase, export, replay,
backfill and key rotation: what, when, who, which request, how many rows or records.

The table refuses UPDATE, DELETE and TRUNCATE (triggers, migration 0004): the runtime can only
add to it. An erasure's row keeps the user id on purpose: it is the proof the erasure happened
(accountability, Art. 5(2)) and the tombstone that refuses stale messages (tombstones.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

ERASE: Final = "erase"
EXPORT: Final = "export"
REPLAY_DLQ: Final = "replay-dlq"
BACKFILL: Final = "backfill"
ROTATE_KEYS: Final = "rotate-keys"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One operation on personal data, as recorded."""

    action: str
    actor: str
    subject: str | None = None
    request_id: str | None = None
    reason: str | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    at: datetime | None = None


async def record(connection: AsyncConnection, entry: AuditEntry) -> None:
    """Append the entry (inside the caller's transaction: the operation and its row commit
    together, or neither does)."""
    await connection.execute(
        text(
            "INSERT INTO privacy_audit (action, actor, subject, request_id, reason, counts)"
            " VALUES (:action, :actor, :subject, :request_id, :reason, CAST(:counts AS jsonb))"
        ),
        {
            "action": entry.action,
            "actor": entry.actor,
            "subject": entry.subject,
            "request_id": entry.request_id,
            "reason": entry.reason,
            "counts": json.dumps(dict(entry.counts), sort_keys=True),
        },
    )


async def entries_since(
    connection: AsyncConnection, since: datetime, *, limit: int = 10_000
) -> list[AuditEntry]:
    """The entries recorded at or after `since`, oldest first (at most `limit`)."""
    result = await connection.execute(
        text(
            "SELECT action, actor, subject, request_id, reason, counts, at FROM privacy_audit"
            " WHERE at >= :since ORDER BY at, id LIMIT :limit"
        ),
        {"since": since, "limit": limit},
    )
    return [
        AuditEntry(
            action=row.action,
            actor=row.actor,
            subject=row.subject,
            request_id=row.request_id,
            reason=row.reason,
            counts={str(k): int(v) for k, v in (row.counts or {}).items()},
            at=row.at,
        )
        for row in result
    ]
