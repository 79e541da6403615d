"""The outbox relay: a topic that cannot be published to never holds up the others."""

from __future__ import annotations

import uuid

import asyncpg

from emulator import AliceEmulator
from tests.integration.pipeline.conftest import (
    FIRST_EVENTS,
    Producer,
    ReaderFactory,
    SettingsFactory,
    Topics,
    create_plain_user,
    distinct_types,
    running,
)


async def test_a_failing_topic_does_not_block_derived_events(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    read_topic: ReaderFactory,
    topics: Topics,
    pg: asyncpg.Connection,
) -> None:
    """An older outbox row for a topic that does not exist stays queued, while a new user's
    derived events are published to the output topic all the same."""
    missing = f"missing.{uuid.uuid4().hex[:8]}"
    await pg.execute(
        "INSERT INTO outbox (event_id, topic, headers, payload, event_type)"
        " VALUES ($1, $2, '[]', '\\x00', 'dead_letter')",
        str(uuid.uuid4()),
        missing,
    )
    user_id = str(uuid.uuid4())
    expected = create_plain_user(emulator, user_id)
    output = await read_topic(topics.output)
    try:
        async with running(make_settings(shutdown_timeout_s=4)):
            await producer.send({"user_id": user_id, "event_id": f"relay-{uuid.uuid4().hex}"})
            records = await output.wait_for(expected, timeout=30)
        assert {r.headers["ce_subject"].decode() for r in records} == {user_id}
        assert list(distinct_types(records)) == list(FIRST_EVENTS)
        unsent = await pg.fetchval(
            "SELECT count(*) FROM outbox WHERE topic = $1 AND sent_at IS NULL", missing
        )
        assert unsent == 1
    finally:
        await pg.execute("DELETE FROM outbox WHERE topic = $1", missing)
