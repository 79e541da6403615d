"""The local stack is real: an Apache Kafka broker and a PostgreSQL server with our schema."""

from __future__ import annotations

import uuid

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from service.store.migrate import head_revision
from tests.conftest import TopicFactory


async def test_idempotent_producer_round_trip(
    kafka_bootstrap: str, new_topic: TopicFactory
) -> None:
    """Records sent by an idempotent producer come back from the broker in order, once each."""
    topic = await new_topic("stack")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for i in range(20):
            await producer.send(topic, key=b"user", value=f"m{i}".encode())
        await producer.flush()
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        got: list[bytes] = []
        while len(got) < 20:
            batch = await consumer.getmany(timeout_ms=5000)
            assert batch, "the broker returned nothing within 5 s"
            got.extend(r.value for records in batch.values() for r in records)
    finally:
        await consumer.stop()
    assert got == [f"m{i}".encode() for i in range(20)]


async def test_postgres_round_trip_with_migrated_schema(pg: asyncpg.Connection) -> None:
    """A row written to the migrated outbox table reads back with its generated id and time
    (inside a transaction rolled back: no relay of a later test ever sees the row)."""
    transaction = pg.transaction()
    await transaction.start()
    try:
        assert await pg.fetchval("SELECT version_num FROM alembic_version") == head_revision()
        event_id = str(uuid.uuid4())
        row_id = await pg.fetchval(
            "INSERT INTO outbox (event_id, topic, key, headers, payload, event_type)"
            " VALUES ($1, 'stack-test', NULL, '[]', $2, 'test') RETURNING id",
            event_id,
            b'{"x": 1}',
        )
        row = await pg.fetchrow("SELECT * FROM outbox WHERE id = $1", row_id)
        assert row is not None
        assert str(row["event_id"]) == event_id
        assert row["payload"] == b'{"x": 1}'
        assert row["sent_at"] is None
        assert row["created_at"].tzinfo is not None
    finally:
        await transaction.rollback()
