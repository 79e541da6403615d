"""The use case: a user's history document, read in one transaction; a reveal is audited.

Shared by the `history` command and the HTTP API. With `reveal`, the audit row
(`history_reveal`: who, which request, how many snapshots) is written in the same transaction
as the reads, so personal values are never shown without their row committed first.
"""

from __future__ import annotations

from typing import Any, Final

from service.crypto import DataKeys, Unsealer
from service.history import store
from service.history.timeline import build_timeline, timeline_json
from service.privacy import audit
from service.store.database import Database

HISTORY_REVEAL: Final = "history_reveal"


async def user_history(
    database: Database,
    user_id: str,
    *,
    data_keys: DataKeys,
    reveal: bool,
    actor: str,
    request_id: str,
) -> dict[str, Any] | None:
    """The history document of a (canonical) user id, or None for a user the service does not
    hold (never seen, or erased)."""
    async with database.transaction(write=reveal) as connection:
        user = await store.load_user(connection, user_id)
        if user is None:
            return None
        snapshots = await store.load_snapshots(connection, user_id, Unsealer(data_keys))
        inbox, dead_letters = await store.load_sources(
            connection, [s.message_id for s in snapshots]
        )
        outbox = await store.load_outbox(connection, user_id)
        if reveal:
            await audit.record(
                connection,
                audit.AuditEntry(
                    action=HISTORY_REVEAL,
                    actor=actor,
                    subject=user_id,
                    request_id=request_id,
                    counts={"report_snapshots": len(snapshots)},
                ),
            )
    timeline = build_timeline(
        user, snapshots, inbox=inbox, dead_letters=dead_letters, outbox=outbox
    )
    return timeline_json(timeline, reveal=reveal)
