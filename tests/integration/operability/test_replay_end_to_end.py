"""replay-dlq end to end: a user unknown at Alice is dead-lettered, fixed at Alice, replayed
with the CLI, and then stored and derived; replaying twice stores nothing twice."""

from __future__ import annotations

import uuid

import asyncpg

from emulator import AliceEmulator
from tests.integration.operability.conftest import run_cli
from tests.integration.pipeline.conftest import (
    Producer,
    ReaderFactory,
    SettingsFactory,
    Topics,
    committed_offsets,
    eventually,
    running,
)


def _env(kafka_bootstrap: str, topics: Topics, database_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,  # the run is audited in the test's database
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_INPUT_TOPIC": topics.input,
        "KAFKA_OUTPUT_TOPIC": topics.output,
        "KAFKA_DLQ_TOPIC": topics.dlq,
        "ALICE_API_KEY": "",
    }


async def _end_offsets(kafka_bootstrap: str, topic: str) -> dict[int, int]:
    from aiokafka import AIOKafkaConsumer, TopicPartition  # noqa: PLC0415

    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(2)])
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def test_unknown_user_fixed_at_alice_and_replayed_is_stored_and_derived_once(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    read_topic: ReaderFactory,
    topics: Topics,
    pg: asyncpg.Connection,
    kafka_bootstrap: str,
    database_url: str,
) -> None:
    """404 -> dead letter -> user created at Alice -> replay-dlq -> one snapshot, derived events
    on the output topic; a second replay of the same dead letter stores and derives nothing."""
    user_id = str(uuid.uuid4())
    emulator.create_user(user_id)
    emulator.delete_user(user_id)
    dlq = await read_topic(topics.dlq)
    output = await read_topic(topics.output)
    group_id = f"g-replay-{uuid.uuid4().hex[:8]}"

    async with running(make_settings(kafka_group_id=group_id)):
        await producer.send({"user_id": user_id, "event_id": f"onboarding-{user_id}"})
        [letter] = await dlq.wait_for(1)
        assert letter.headers["dlq_error_class"] == b"unknown_user"

        emulator.create_user(user_id)  # fixed at Alice
        result = await run_cli("replay-dlq", env=_env(kafka_bootstrap, topics, database_url))
        assert result.code == 0, result.err
        assert "replayed 1 of 1" in result.out

        async def stored() -> bool:
            count = await pg.fetchval(
                "SELECT count(*) FROM report_snapshots WHERE user_id = $1", uuid.UUID(user_id)
            )
            return bool(count == 1)

        await eventually(stored, timeout=60)
        derived = await pg.fetchval(
            "SELECT count(*) FROM outbox WHERE user_id = $1 AND event_type <> 'dead_letter'",
            uuid.UUID(user_id),
        )
        assert derived >= 1

        async def published() -> bool:
            return sum(r.key == user_id.encode() for r in output.records) == derived

        await eventually(published, timeout=60)

        # The same dead letter replayed again: a duplicate of the stored message.
        again = await run_cli("replay-dlq", env=_env(kafka_bootstrap, topics, database_url))
        assert again.code == 0, again.err
        ends = await _end_offsets(kafka_bootstrap, topics.input)
        assert sum(ends.values()) == 3  # the original and two replays

        async def all_committed() -> bool:
            offsets = await committed_offsets(kafka_bootstrap, group_id, topics.input)
            return all(offsets.get(p, 0) == end for p, end in ends.items() if end)

        await eventually(all_committed, timeout=60)

    assert (
        await pg.fetchval(
            "SELECT count(*) FROM report_snapshots WHERE user_id = $1", uuid.UUID(user_id)
        )
        == 1
    )
    assert (
        await pg.fetchval(
            "SELECT count(*) FROM outbox WHERE user_id = $1 AND event_type <> 'dead_letter'",
            uuid.UUID(user_id),
        )
        == derived
    )
    assert len(dlq.records) == 1
    outcome = await pg.fetchval(
        "SELECT outcome FROM inbox WHERE message_id LIKE $1", f"%onboarding-{user_id}"
    )
    assert outcome == "stored"
