"""Retention (GDPR Art. 5(1)(e)) and the audit trail on the real database: only what is due is
deleted, each user's latest snapshot stays, the CLI's dry run deletes nothing, and the audit
table refuses to be rewritten."""

from __future__ import annotations

import json
import uuid

import asyncpg
import pytest

from service.settings import Settings
from tests.integration.pipeline.conftest import settings_env
from tests.integration.privacy.conftest import run_cli

SNAPSHOT = (
    "INSERT INTO report_snapshots (user_id, report_id, content_hash, report, message_id,"
    " stored_at) VALUES ($1, $2, '\\x00', '{}'::jsonb, $3, now() - make_interval(days => $4))"
    " RETURNING id"
)
QUARANTINE = (
    'INSERT INTO quarantine (message_id, topic, partition, "offset", error_code, reason,'
    " created_at) VALUES ($1, 't', 0, 0, 'invalid_input', 'r', now() - make_interval(days => $2))"
)
EVENT = (
    "INSERT INTO user_events (event_id, user_id, type, occurred_on, event, first_snapshot_id)"
    " VALUES ($1, $2, 'x', now() - make_interval(days => $3), '{}'::jsonb, $4)"
)


async def _exists(pg: asyncpg.Connection, table: str, column: str, value: object) -> bool:
    sql = f"SELECT EXISTS (SELECT 1 FROM {table} WHERE {column} = $1)"  # noqa: S608 - fixed names
    return bool(await pg.fetchval(sql, value))


async def test_retention_deletes_only_what_is_due(
    pg: asyncpg.Connection, database_url: str
) -> None:
    """With 90/30/365 days: a superseded 100-day-old snapshot, a 40-day-old quarantine row, a
    400-day-old user event and a published erasure notice go; the user's latest snapshot (old
    as it is), a 10-day-old superseded snapshot, a 10-day-old quarantine row, a 100-day-old
    event and an unpublished notice stay; `--dry-run` counts them and deletes nothing."""
    user_id, run = str(uuid.uuid4()), uuid.uuid4().hex
    old = await pg.fetchval(SNAPSHOT, user_id, str(uuid.uuid4()), f"{run}-1", 100)
    recent = await pg.fetchval(SNAPSHOT, user_id, str(uuid.uuid4()), f"{run}-2", 10)
    latest = await pg.fetchval(SNAPSHOT, user_id, str(uuid.uuid4()), f"{run}-3", 95)
    await pg.execute(QUARANTINE, f"{run}-q-old", 40)
    await pg.execute(QUARANTINE, f"{run}-q-new", 10)
    await pg.execute(EVENT, f"{run}-e-old", user_id, 400, latest)
    await pg.execute(EVENT, f"{run}-e-new", user_id, 100, latest)
    sent, unsent = str(uuid.uuid4()), str(uuid.uuid4())
    for event_id, sent_at in ((sent, True), (unsent, False)):
        await pg.execute(
            "INSERT INTO outbox (event_id, topic, headers, event_type, sent_at) VALUES"
            " ($1, 't', '[]'::jsonb, 'onboarding.user.erased', CASE WHEN $2 THEN now() END)",
            event_id,
            sent_at,
        )
    settings = Settings(
        database_url=database_url,
        alice_api_key="unused",
        snapshot_retention_days=90,
        quarantine_retention_days=30,
        user_event_retention_days=365,
    )
    env = settings_env(settings)
    due = [
        ("report_snapshots", "id", old),
        ("quarantine", "message_id", f"{run}-q-old"),
        ("user_events", "event_id", f"{run}-e-old"),
        ("outbox", "event_id", sent),
    ]
    kept = [
        ("report_snapshots", "id", recent),
        ("report_snapshots", "id", latest),
        ("quarantine", "message_id", f"{run}-q-new"),
        ("user_events", "event_id", f"{run}-e-new"),
        ("outbox", "event_id", unsent),
    ]

    dry = await run_cli("retention", "--dry-run", env=env)
    assert dry.code == 0, dry.err
    counted = {line.split(":")[0]: int(line.split()[1]) for line in dry.out.splitlines()}
    assert set(counted) == {"report_snapshots", "quarantine", "user_events", "outbox"}
    assert all(counted[table] >= 1 for table, _, _ in due)
    for table, column, value in due + kept:
        assert await _exists(pg, table, column, value), (table, value)

    applied = await run_cli("retention", "--apply", env=env)
    assert applied.code == 0, applied.err
    assert "report_snapshots:" in applied.out
    for table, column, value in due:
        assert not await _exists(pg, table, column, value), (table, value)
    for table, column, value in kept:
        assert await _exists(pg, table, column, value), (table, value)


async def test_audit_rows_cannot_be_rewritten(pg: asyncpg.Connection) -> None:
    """UPDATE, DELETE and TRUNCATE of the audit table are refused; INSERT works."""
    subject = str(uuid.uuid4())
    await pg.execute(
        "INSERT INTO privacy_audit (action, actor, subject) VALUES ('export', 't', $1)", subject
    )
    for statement in (
        "UPDATE privacy_audit SET actor = 'someone else' WHERE subject = $1",
        "DELETE FROM privacy_audit WHERE subject = $1",
    ):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await pg.execute(statement, subject)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await pg.execute("TRUNCATE privacy_audit")
    assert await pg.fetchval("SELECT actor FROM privacy_audit WHERE subject = $1", subject) == "t"


async def test_backfill_writes_an_audit_row(
    pg: asyncpg.Connection, database_url: str, kafka_bootstrap: str, new_topic: object
) -> None:
    """A backfill that publishes records who ran it, its run id and how many it published."""
    topic = await new_topic("backfill")  # type: ignore[operator]
    run_id = uuid.uuid4().hex
    settings = Settings(
        database_url=database_url, alice_api_key="unused", kafka_bootstrap_servers=kafka_bootstrap
    )
    ids = f"{uuid.uuid4()}\n{uuid.uuid4()}\nnot-a-uuid\n"
    result = await run_cli(
        "backfill",
        "--file",
        "-",
        "--topic",
        topic,
        "--run-id",
        run_id,
        "--skip-invalid",
        "--actor",
        "ops@example",
        env=settings_env(settings),
        stdin=ids.encode(),
    )
    assert result.code == 0, result.err
    row = await pg.fetchrow(
        "SELECT action, actor, counts FROM privacy_audit WHERE request_id = $1",
        f"backfill:{run_id}",
    )
    assert row is not None
    assert (row["action"], row["actor"]) == ("backfill", "ops@example")
    assert json.loads(row["counts"]) == {"duplicates": 0, "invalid": 1, "published": 2}
