"""The outbox relay on the real broker: a record Kafka refuses is parked and the rows behind it
flow, a late acknowledgement or a failing UPDATE re-sends nothing, retention never stops it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import create_async_engine

from service.errors import StorageOutage
from service.kafka import KafkaPublisher
from service.metrics import Metrics
from service.store.database import Database
from service.store.relay import OutboxRelay
from tests.integration.pipeline.conftest import ReaderFactory, SettingsFactory, eventually

SMALL_LIMIT = 2048  # the topic's max.message.bytes


@pytest.fixture
async def small_topic(kafka_bootstrap: str, pg: asyncpg.Connection) -> AsyncIterator[str]:
    """A topic whose broker limit is 2 KB per record batch; its outbox rows dropped after."""
    name = f"relay.{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    await admin.create_topics(
        [NewTopic(name, 1, 1, topic_configs={"max.message.bytes": str(SMALL_LIMIT)})]
    )
    yield name
    await pg.execute("DELETE FROM outbox WHERE topic = $1", name)
    await admin.delete_topics([name])
    await admin.close()


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A pool on the session's database."""
    db = Database(engine=create_async_engine(database_url))
    yield db
    await db.aclose()


@pytest.fixture
async def publisher(make_settings: SettingsFactory) -> AsyncIterator[KafkaPublisher]:
    """The service's idempotent producer."""
    producer = KafkaPublisher(make_settings())
    await producer.start()
    yield producer
    await producer.stop()


RowMaker = Callable[..., Awaitable[int]]


@pytest.fixture
def add_row(pg: asyncpg.Connection) -> RowMaker:
    """Queue an outbox row with this payload; its id."""

    async def add(topic: str, payload: bytes, key: bytes = b"k") -> int:
        row_id = await pg.fetchval(
            "INSERT INTO outbox (event_id, topic, key, headers, payload, event_type)"
            " VALUES ($1, $2, $3, '[]', $4, 'test') RETURNING id",
            str(uuid.uuid4()),
            topic,
            key,
            payload,
        )
        return int(row_id)

    return add


def _relay(database: Database, publisher: Any, metrics: Metrics, **options: Any) -> OutboxRelay:
    return OutboxRelay(
        database=database,
        publisher=publisher,
        batch_size=100,
        poll_interval_s=0.1,
        metrics=metrics,
        **options,
    )


async def _drain(relay: OutboxRelay, pg: asyncpg.Connection, topic: str) -> None:
    """Run rounds until every row of the topic is sent or parked."""

    async def done() -> bool:
        await relay.publish_pending()
        left = await pg.fetchval(
            "SELECT count(*) FROM outbox WHERE topic = $1 AND sent_at IS NULL"
            " AND parked_at IS NULL",
            topic,
        )
        return bool(left == 0) and relay.idle

    await eventually(done, timeout=60)


async def test_a_record_the_broker_refuses_is_parked_and_the_rows_behind_it_flow_once(
    small_topic: str,
    database: Database,
    publisher: KafkaPublisher,
    add_row: RowMaker,
    read_topic: ReaderFactory,
    pg: asyncpg.Connection,
) -> None:
    """A 10 KB record on a topic limited to 2 KB is parked with its reason and counted; the
    rows before and after it are each published exactly once, in order."""
    metrics = Metrics(CollectorRegistry())
    relay = _relay(database, publisher, metrics)
    before = [await add_row(small_topic, b"before-%d" % n) for n in range(3)]
    poison = await add_row(small_topic, b"x" * (5 * SMALL_LIMIT))
    after = [await add_row(small_topic, b"after-%d" % n) for n in range(3)]
    reader = await read_topic(small_topic)

    await _drain(relay, pg, small_topic)
    sentinel = await add_row(small_topic, b"sentinel")
    await _drain(relay, pg, small_topic)
    records = await reader.wait_for(7)

    assert [r.value for r in records] == [
        *(b"before-%d" % n for n in range(3)),
        *(b"after-%d" % n for n in range(3)),
        b"sentinel",
    ]
    parked = await pg.fetch(
        "SELECT id, park_reason FROM outbox WHERE topic = $1 AND parked_at IS NOT NULL",
        small_topic,
    )
    assert [(r["id"], r["park_reason"]) for r in parked] == [(poison, "MessageSizeTooLargeError")]
    sent = await pg.fetchval(
        "SELECT count(*) FROM outbox WHERE id = ANY($1::bigint[]) AND sent_at IS NOT NULL",
        [*before, *after, sentinel],
    )
    assert sent == 7
    assert (
        metrics.registry.get_sample_value(
            "ingestor_outbox_parked_total", {"reason": "MessageSizeTooLargeError"}
        )
        == 1
    )


async def test_a_record_the_producer_refuses_before_sending_is_parked(
    small_topic: str,
    database: Database,
    publisher: KafkaPublisher,
    add_row: RowMaker,
    read_topic: ReaderFactory,
    pg: asyncpg.Connection,
) -> None:
    """A record above the producer's max_request_size (1 MB), refused by send() itself, is
    parked at once; the rows around it are published once, in order."""
    first = await add_row(small_topic, b"first")
    huge = await add_row(small_topic, b"x" * 1_200_000)
    last = await add_row(small_topic, b"last")
    relay = _relay(database, publisher, Metrics(CollectorRegistry()))
    reader = await read_topic(small_topic)

    await _drain(relay, pg, small_topic)
    await add_row(small_topic, b"sentinel")
    await _drain(relay, pg, small_topic)
    records = await reader.wait_for(3)

    assert [r.value for r in records] == [b"first", b"last", b"sentinel"]
    rows = await pg.fetch(
        "SELECT id, sent_at IS NOT NULL AS sent, park_reason FROM outbox"
        " WHERE id = ANY($1::bigint[]) ORDER BY id",
        [first, huge, last],
    )
    assert [(r["sent"], r["park_reason"]) for r in rows] == [
        (True, None),
        (False, "MessageSizeTooLargeError"),
        (True, None),
    ]


class _LateAcks:
    """The real producer, whose acknowledgements reach the relay only after `delay_s`."""

    def __init__(self, inner: KafkaPublisher, delay_s: float) -> None:
        self._inner = inner
        self._delay_s = delay_s
        self.sends = 0

    async def send(
        self, topic: str, value: Any = None, key: Any = None, headers: Any = None
    ) -> Any:
        self.sends += 1
        acked = await self._inner.send(topic, value=value, key=key, headers=headers)

        async def late() -> Any:
            result = await acked
            await asyncio.sleep(self._delay_s)
            return result

        return asyncio.ensure_future(late())


async def test_records_acknowledged_after_the_round_timeout_are_not_sent_again(
    small_topic: str,
    database: Database,
    publisher: KafkaPublisher,
    add_row: RowMaker,
    read_topic: ReaderFactory,
    pg: asyncpg.Connection,
) -> None:
    """Acknowledgements later than the round's timeout: every row is sent once and marked."""
    late = _LateAcks(publisher, delay_s=1.0)
    relay = _relay(database, late, Metrics(CollectorRegistry()), publish_timeout_s=0.2)
    rows = [await add_row(small_topic, b"late-%d" % n) for n in range(4)]
    reader = await read_topic(small_topic)

    await _drain(relay, pg, small_topic)
    await add_row(small_topic, b"sentinel")
    await _drain(relay, pg, small_topic)
    records = await reader.wait_for(5)

    assert [r.value for r in records] == [*(b"late-%d" % n for n in range(4)), b"sentinel"]
    assert late.sends == 5
    assert (
        await pg.fetchval(
            "SELECT count(*) FROM outbox WHERE id = ANY($1::bigint[]) AND sent_at IS NOT NULL", rows
        )
        == 4
    )


async def test_a_failing_update_marks_later_and_sends_nothing_twice(
    small_topic: str,
    database: Database,
    publisher: KafkaPublisher,
    add_row: RowMaker,
    read_topic: ReaderFactory,
    pg: asyncpg.Connection,
) -> None:
    """With UPDATE on the outbox revoked, published rows are not published again on the
    following rounds; once the privilege is back they are marked sent."""
    relay = _relay(database, publisher, Metrics(CollectorRegistry()))
    rows = [await add_row(small_topic, b"marked-%d" % n) for n in range(3)]
    reader = await read_topic(small_topic)
    await pg.execute("REVOKE UPDATE ON outbox FROM CURRENT_USER")
    try:
        failures = 0
        while failures < 3:
            try:
                await relay.publish_pending()
            except StorageOutage:  # the failing UPDATE (42501) is the point
                failures += 1
    finally:
        await pg.execute("GRANT UPDATE ON outbox TO CURRENT_USER")
    await _drain(relay, pg, small_topic)
    await add_row(small_topic, b"sentinel")
    await _drain(relay, pg, small_topic)
    records = await reader.wait_for(4)

    assert [r.value for r in records] == [*(b"marked-%d" % n for n in range(3)), b"sentinel"]
    assert (
        await pg.fetchval(
            "SELECT count(*) FROM outbox WHERE id = ANY($1::bigint[]) AND sent_at IS NOT NULL", rows
        )
        == 3
    )


async def test_retention_blocked_does_not_stop_publishing(
    small_topic: str,
    database: Database,
    publisher: KafkaPublisher,
    add_row: RowMaker,
    read_topic: ReaderFactory,
    pg: asyncpg.Connection,
    database_url: str,
) -> None:
    """While the retention DELETE waits on a lock, the running relay still publishes."""
    old_sent = await add_row(small_topic, b"old")
    await pg.execute(
        "UPDATE outbox SET sent_at = now() - interval '2 days' WHERE id = $1", old_sent
    )
    blocker = await asyncpg.connect(database_url.replace("+asyncpg", "", 1))
    relay = _relay(database, publisher, Metrics(CollectorRegistry()), retention_interval_s=0.0)
    reader = await read_topic(small_topic)
    try:
        async with blocker.transaction():
            await blocker.execute("SELECT id FROM outbox WHERE id = $1 FOR UPDATE", old_sent)
            relay.start()

            async def retention_waiting() -> bool:
                waiting = await pg.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND wait_event_type = 'Lock' AND query LIKE 'DELETE FROM outbox%'"
                )
                return bool(waiting)

            await eventually(retention_waiting, timeout=30)
            await add_row(small_topic, b"fresh")
            relay.notify()
            records = await reader.wait_for(1, timeout=30)
            assert [r.value for r in records] == [b"fresh"]
    finally:
        await relay.stop(flush_timeout_s=1)
        await blocker.close()
