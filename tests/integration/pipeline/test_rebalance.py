"""Rebalance safety: a second instance joins the group mid-drain; partitions move while work is
in flight, and nothing is lost or doubled."""

from __future__ import annotations

import uuid

import asyncpg

from emulator import AliceEmulator
from tests.integration.pipeline.conftest import (
    Producer,
    ReaderFactory,
    SettingsFactory,
    Topics,
    committed_offsets,
    create_plain_user,
    eventually,
    metric,
    running,
    settled,
)

USERS = 30
MESSAGES_PER_USER = 3


async def test_partitions_moving_mid_drain_lose_and_double_nothing(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    read_topic: ReaderFactory,
    topics: Topics,
    pg: asyncpg.Connection,
    kafka_bootstrap: str,
) -> None:
    """With Alice slow (250 ms a call) and 90 messages queued on 2 partitions, a second
    instance joining the group takes a partition over while the first has work in flight: every
    message ends in the inbox once, each user has one snapshot, every derived event is published
    once, and the group's committed offsets reach the end of both partitions."""
    users = [str(uuid.uuid4()) for _ in range(USERS)]
    expected_events = 0
    for user_id in users:
        expected_events += create_plain_user(emulator, user_id)
    emulator.set_faults(latency_ms=250)
    output = await read_topic(topics.output)
    for n in range(MESSAGES_PER_USER):
        for user_id in users:
            await producer.send({"user_id": user_id, "event_id": f"{user_id}/{n}"})
    group = f"g-rebalance-{uuid.uuid4().hex[:8]}"
    settings = make_settings(kafka_group_id=group, max_in_flight=2, kafka_session_timeout_ms=6000)

    async def recorded() -> int:
        count = await pg.fetchval(
            "SELECT count(*) FROM inbox WHERE topic = $1 AND outcome <> 'processing'",
            topics.input,
        )
        return int(count)

    async with running(settings):

        async def started() -> bool:
            return await recorded() >= 10

        await eventually(started, timeout=60)
        async with running(settings) as second:  # joins the group: a partition moves to it

            async def drained() -> bool:
                return await recorded() == USERS * MESSAGES_PER_USER

            await eventually(drained, timeout=120)

            async def committed() -> bool:
                offsets = await committed_offsets(kafka_bootstrap, group, topics.input)
                return sum(offsets.values()) == USERS * MESSAGES_PER_USER

            await eventually(committed, timeout=30)
            records = await settled(producer, emulator, output, expected_events)
            taken_by_second = sum(
                metric(second, "ingestor_messages_total", outcome=outcome)
                for outcome in ("stored", "unchanged", "duplicate")
            )
            assert taken_by_second > 0, "the second instance never received a partition"

    outcomes = await pg.fetch(
        "SELECT outcome, count(*) AS n FROM inbox WHERE topic = $1 GROUP BY outcome",
        topics.input,
    )
    by_outcome = {row["outcome"]: row["n"] for row in outcomes}
    # The sentinel of `settled` is one more stored message.
    assert by_outcome == {"stored": USERS + 1, "unchanged": USERS * (MESSAGES_PER_USER - 1)}
    snapshots = await pg.fetchval(
        "SELECT count(*) FROM report_snapshots WHERE user_id = ANY($1::uuid[])", users
    )
    assert snapshots == USERS
    ce_ids = [record.headers["ce_id"] for record in records]
    assert len(ce_ids) == len(set(ce_ids)) == expected_events
