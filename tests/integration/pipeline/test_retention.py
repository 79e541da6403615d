"""Retention: old sent outbox rows and old inbox ids are purged; the rest stays."""

from __future__ import annotations

import uuid

import asyncpg

from service.app import build_service
from tests.integration.pipeline.conftest import SettingsFactory


async def test_retention_purges_only_what_is_past_its_time(
    make_settings: SettingsFactory, pg: asyncpg.Connection
) -> None:
    """Sent outbox rows older than a day and inbox ids older than INBOX_RETENTION_DAYS go;
    unsent rows, recent rows and recent inbox ids stay."""
    tag = uuid.uuid4().hex[:8]
    outbox_sql = (
        "INSERT INTO outbox (event_id, topic, headers, payload, event_type, sent_at)"
        " VALUES ($1, $2, '[]', '\\x00', 'test', now() - make_interval(hours => $3))"
    )
    old_sent, recent_sent = str(uuid.uuid4()), str(uuid.uuid4())
    await pg.execute(outbox_sql, old_sent, f"ret-{tag}", 48)
    await pg.execute(outbox_sql, recent_sent, f"ret-{tag}", 2)
    unsent = str(uuid.uuid4())
    await pg.execute(
        "INSERT INTO outbox (event_id, topic, headers, payload, event_type, created_at)"
        " VALUES ($1, $2, '[]', '\\x00', 'test', now() - interval '3 days')",
        unsent,
        f"ret-{tag}",
    )
    inbox_sql = (
        'INSERT INTO inbox (message_id, topic, partition, "offset", outcome, processed_at)'
        " VALUES ($1, $2, 0, 0, 'stored', now() - make_interval(days => $3))"
    )
    await pg.execute(inbox_sql, f"old-{tag}", f"ret-{tag}", 31)
    await pg.execute(inbox_sql, f"new-{tag}", f"ret-{tag}", 29)

    service = build_service(make_settings(inbox_retention_days=30))
    try:
        assert await service.relay.apply_retention() >= 2
    finally:
        await service.database.aclose()

    kept = {
        str(r["event_id"])
        for r in await pg.fetch("SELECT event_id FROM outbox WHERE topic = $1", f"ret-{tag}")
    }
    assert kept == {recent_sent, unsent}
    ids = {
        r["message_id"]
        for r in await pg.fetch("SELECT message_id FROM inbox WHERE topic = $1", f"ret-{tag}")
    }
    assert ids == {f"new-{tag}"}
    # Leave nothing for other tests' relays to trip over.
    await pg.execute("DELETE FROM outbox WHERE topic = $1", f"ret-{tag}")
    await pg.execute("DELETE FROM inbox WHERE topic = $1", f"ret-{tag}")
