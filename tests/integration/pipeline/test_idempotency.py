"""Idempotency: the same event twice, and the same unchanged report fetched twice, store one
snapshot and publish its derived events once."""

from __future__ import annotations

import uuid

import asyncpg

from emulator import AliceEmulator
from tests.integration.pipeline.conftest import (
    Producer,
    ReaderFactory,
    SettingsFactory,
    Topics,
    create_plain_user,
    eventually,
    metric,
    running,
    settled,
)


async def test_duplicate_event_and_unchanged_report_store_one_snapshot(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    read_topic: ReaderFactory,
    topics: Topics,
    pg: asyncpg.Connection,
) -> None:
    """A redelivered event is a duplicate and a refetched unchanged report is unchanged:
    one snapshot, one set of outbox rows, and no derived event published twice."""
    user_id = str(uuid.uuid4())
    first_derived = create_plain_user(emulator, user_id)
    first, again = f"dup-{uuid.uuid4().hex}", f"again-{uuid.uuid4().hex}"
    output = await read_topic(topics.output)

    async def outcome_of(event_id: str) -> str | None:
        value = await pg.fetchval(
            "SELECT outcome FROM inbox WHERE message_id = $1", f"event:{event_id}"
        )
        return None if value is None else str(value)

    async with running(make_settings()) as service:
        await producer.send({"user_id": user_id, "event_id": first})
        await producer.send({"user_id": user_id, "event_id": first})

        async def both_taken() -> bool:
            return metric(service, "ingestor_messages_total", outcome="stored") == 1 and (
                metric(service, "ingestor_messages_total", outcome="duplicate") == 1
            )

        await eventually(both_taken)
        await output.wait_for(first_derived)
        await producer.send({"user_id": user_id, "event_id": again})

        async def refetched() -> bool:
            return await outcome_of(again) == "unchanged"

        await eventually(refetched)
        records = await settled(producer, emulator, output, first_derived)

    assert await outcome_of(first) == "stored"
    inbox = await pg.fetch(
        'SELECT message_id, outcome, snapshot_id FROM inbox WHERE user_id = $1 ORDER BY "offset"',
        user_id,
    )
    assert [(r["message_id"], r["outcome"]) for r in inbox] == [
        (f"event:{first}", "stored"),
        (f"event:{again}", "unchanged"),
    ]
    assert inbox[1]["snapshot_id"] is None
    snapshots = await pg.fetchval(
        "SELECT count(*) FROM report_snapshots WHERE user_id = $1", user_id
    )
    assert snapshots == 1
    outbox = await pg.fetchval("SELECT count(*) FROM outbox WHERE user_id = $1", user_id)
    assert outbox == first_derived
    ce_ids = [r.headers["ce_id"] for r in records]
    assert len(set(ce_ids)) == len(ce_ids) == first_derived
