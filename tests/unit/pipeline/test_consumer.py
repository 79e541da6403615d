"""The Kafka edge without a broker: what is taken, what is committed, when fetching pauses.

A hand-written fake of aiokafka's consumer records seeks, pauses and commits; the scheduler is
the real one, with a handler the test controls. (The same paths run against the real broker in
tests/integration/pipeline.)
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any, cast

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError
from aiokafka.structs import ConsumerRecord, OffsetAndMetadata
from prometheus_client import CollectorRegistry

from service.consumer import Consumer, FetchedBatch, Progress
from service.ingest import Ingest
from service.metrics import Metrics
from service.processor import Intake
from service.scheduler import KeyedScheduler, Work

TOPIC = "in"
USERS = [f"0f8fad5b-d9cb-469f-a165-7086772895{i:02d}" for i in range(100)]


def _record(
    offset: int,
    *,
    partition: int = 0,
    user: int | None = None,
    value: bytes | None = None,
    headers: Sequence[tuple[str, bytes | None]] = (),
) -> ConsumerRecord[bytes, bytes]:
    body = value if value is not None else json.dumps({"user_id": USERS[user or 0]}).encode()
    return ConsumerRecord(
        topic=TOPIC,
        partition=partition,
        offset=offset,
        timestamp=1_700_000_000_000 + offset,
        timestamp_type=0,
        key=None,
        value=body,
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=len(body),
        headers=list(headers),
    )


class FakeKafka:
    """What the consumer uses of aiokafka's AIOKafkaConsumer, recorded."""

    def __init__(self, partitions: Sequence[int] = (0,), committed: int | None = None) -> None:
        self.assigned = {TopicPartition(TOPIC, p) for p in partitions}
        self.paused: set[TopicPartition] = set()
        self.commits: list[dict[TopicPartition, int]] = []
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.committed_offset = committed
        self.fail_commits = 0

    def assignment(self) -> set[TopicPartition]:
        return set(self.assigned)

    def pause(self, *partitions: TopicPartition) -> None:
        self.paused.update(partitions)

    def resume(self, *partitions: TopicPartition) -> None:
        self.paused.difference_update(partitions)

    async def committed(self, tp: TopicPartition) -> int | None:
        return self.committed_offset

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))

    async def commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        if self.fail_commits:
            self.fail_commits -= 1
            raise KafkaConnectionError("broker away")
        self.commits.append({tp: meta.offset for tp, meta in offsets.items()})

    def highwater(self, tp: TopicPartition) -> int | None:
        return None

    def last_stable_offset(self, tp: TopicPartition) -> int | None:
        return None


class FakeIngest:
    """The inbox pre-check: nothing is known."""

    async def known(self, message_ids: Sequence[str]) -> set[str]:
        return set()


class Gate:
    """A handler that records what it was given and holds each message until released."""

    def __init__(self) -> None:
        self.seen: list[Work] = []
        self.release = asyncio.Event()

    async def __call__(self, work: Work) -> None:
        self.seen.append(work)
        await self.release.wait()


def _consumer(kafka: FakeKafka, handler: Any, max_in_flight: int = 10) -> Consumer:
    box: list[Consumer] = []
    scheduler = KeyedScheduler(
        handler=handler,
        max_in_flight=max_in_flight,
        on_finished=lambda w: box[0].finished(w),  # noqa: PLW0108 - box is filled below
        on_abandoned=lambda w: box[0].abandoned(w),  # noqa: PLW0108
    )
    consumer = Consumer(
        ingest=cast("Ingest", FakeIngest()),
        scheduler=scheduler,
        progress=Progress(),
        metrics=Metrics(CollectorRegistry()),
        max_in_flight=max_in_flight,
        commit_interval_s=3600,
    )
    consumer._kafka = kafka  # attach() would also start the periodic committer
    box.append(consumer)
    return consumer


async def _settle(consumer: Consumer) -> None:
    await asyncio.wait_for(consumer.scheduler.wait_idle(), 5)
    await consumer.commit()


async def test_a_binary_header_costs_only_its_own_record() -> None:
    """A record with a non-UTF-8 or null header among valid ones: all are taken, the valid
    ones as events, none lost (FastStream's parser would have dropped the whole batch)."""
    kafka = FakeKafka(committed=0)
    gate = Gate()
    gate.release.set()
    consumer = _consumer(kafka, gate)
    batch = [_record(i, user=i) for i in range(5)]
    batch[2] = _record(2, user=2, headers=[("traceparent", b"\xff\xfe"), ("x", None)])
    message = await consumer.raw_batch_parser(batch)
    await consumer.on_batch(message.raw_message)
    await _settle(consumer)
    intakes = [cast("Intake", w.payload) for w in gate.seen]
    assert [w.record.offset for w in gate.seen] == [0, 1, 2, 3, 4]
    assert all(i.event is not None for i in intakes)
    assert gate.seen[2].record.headers == (("traceparent", b"\xff\xfe"), ("x", None))
    assert kafka.commits[-1] == {TopicPartition(TOPIC, 0): 5}


async def test_malformed_records_become_dead_letter_work_not_silence() -> None:
    """Not JSON, deep nesting, a NUL id: each is handed on with its error, and committed only
    once handled."""
    kafka = FakeKafka(committed=0)
    gate = Gate()
    gate.release.set()
    consumer = _consumer(kafka, gate)
    batch = [
        _record(0, value=b"not json"),
        _record(1, value=b"[" * 50_000 + b"]" * 50_000),
        _record(2, user=1, headers=[("ce_id", b"a\x00b")]),
        _record(3, user=3),
    ]
    await consumer.on_batch(batch)
    await _settle(consumer)
    errors = [cast("Intake", w.payload).error for w in gate.seen]
    assert [e is not None for e in errors] == [True, True, True, False]
    assert kafka.commits[-1] == {TopicPartition(TOPIC, 0): 4}


async def test_records_never_seen_below_a_batch_are_fetched_again() -> None:
    """A batch that starts above the committed offset (an earlier batch vanished) is not
    taken: the consumer seeks back, and nothing past the committed offset is committed."""
    kafka = FakeKafka(committed=10)
    gate = Gate()
    gate.release.set()
    consumer = _consumer(kafka, gate)
    await consumer.on_batch([_record(15, user=1), _record(16, user=2)])
    await _settle(consumer)
    assert gate.seen == []
    assert kafka.seeks == [(TopicPartition(TOPIC, 0), 10)]
    assert all(c[TopicPartition(TOPIC, 0)] <= 10 for c in kafka.commits)
    # The re-fetch delivers the missing records: everything is taken and committed.
    await consumer.on_batch([_record(o, user=o) for o in range(10, 17)])
    await _settle(consumer)
    assert [w.record.offset for w in gate.seen] == list(range(10, 17))
    assert kafka.commits[-1] == {TopicPartition(TOPIC, 0): 17}


async def test_a_batch_fetched_before_a_rebalance_is_dropped() -> None:
    """Records fetched under an assignment that has since changed are not taken (the new
    assignment fetches them again from the committed offset)."""
    kafka = FakeKafka(committed=0)
    gate = Gate()
    consumer = _consumer(kafka, gate)
    message = await consumer.raw_batch_parser([_record(0), _record(1, user=1)])
    await consumer.revoke([(TOPIC, 0)])
    consumer.assigned([(TOPIC, 0)])
    await consumer.on_batch(message.raw_message)
    assert gate.seen == []
    assert consumer.in_flight == 0


async def test_records_of_partitions_no_longer_assigned_are_skipped() -> None:
    """A record of a partition that is not ours any more is neither taken nor committed."""
    kafka = FakeKafka(partitions=(0,), committed=0)
    gate = Gate()
    gate.release.set()
    consumer = _consumer(kafka, gate)
    message = await consumer.raw_batch_parser(
        [_record(0, partition=0), _record(0, partition=1, user=1)]
    )
    assert isinstance(message.raw_message, FetchedBatch)
    await consumer.on_batch(message.raw_message)
    await _settle(consumer)
    assert [(w.record.partition, w.record.offset) for w in gate.seen] == [(0, 0)]
    assert all(TopicPartition(TOPIC, 1) not in c for c in kafka.commits)


async def test_fetching_pauses_at_the_bound_and_resumes_at_half() -> None:
    """At MAX_IN_FLIGHT every assigned partition is paused; it resumes once half is done."""
    kafka = FakeKafka(partitions=(0, 1), committed=0)
    gate = Gate()
    consumer = _consumer(kafka, gate, max_in_flight=4)
    await consumer.on_batch([_record(i, user=i) for i in range(4)])
    await asyncio.sleep(0)
    assert kafka.paused == kafka.assigned
    gate.release.set()
    await _settle(consumer)
    assert kafka.paused == set()


async def test_a_new_assignment_while_full_is_paused_too() -> None:
    """aiokafka starts a new assignment unpaused: while the pipeline is full, it is paused
    again, so intake stays bounded across a rebalance."""
    kafka = FakeKafka(partitions=(0,), committed=0)
    gate = Gate()
    consumer = _consumer(kafka, gate, max_in_flight=2)
    await consumer.on_batch([_record(0, user=0), _record(1, user=1)])
    kafka.assigned = {TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)}
    kafka.paused = set()  # what aiokafka does at a new assignment
    consumer.assigned([(TOPIC, 1)])
    assert kafka.paused == kafka.assigned
    gate.release.set()
    await _settle(consumer)


async def test_abandoned_work_frees_its_place_and_resumes_fetching() -> None:
    """Work cancelled at revocation is not committed, but a paused consumer resumes."""
    kafka = FakeKafka(partitions=(0, 1), committed=0)
    gate = Gate()
    consumer = _consumer(kafka, gate, max_in_flight=2)
    await consumer.on_batch([_record(0, partition=0), _record(0, partition=1, user=1)])
    await asyncio.sleep(0)
    assert kafka.paused
    kafka.assigned = {TopicPartition(TOPIC, 1)}
    consumer._revoke_timeout_s = 0.01
    await consumer.revoke([(TOPIC, 0)])
    assert kafka.paused & kafka.assigned == set()
    assert all(TopicPartition(TOPIC, 0) not in c for c in kafka.commits)
    gate.release.set()
    await _settle(consumer)


async def test_a_failed_commit_is_tried_again() -> None:
    """A commit that fails with a KafkaError is not forgotten: the next one sends it."""
    kafka = FakeKafka(committed=0)
    kafka.fail_commits = 1
    gate = Gate()
    gate.release.set()
    consumer = _consumer(kafka, gate)
    await consumer.on_batch([_record(0), _record(1, user=1)])
    await asyncio.wait_for(consumer.scheduler.wait_idle(), 5)
    await consumer.commit()
    assert kafka.commits == []
    await consumer.commit()
    assert kafka.commits == [{TopicPartition(TOPIC, 0): 2}]


async def test_a_bug_while_taking_a_batch_rewinds_instead_of_losing_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Any exception in the intake seeks the batch's partitions back to the first record not
    taken: the batch is fetched again, never silently skipped."""
    kafka = FakeKafka(committed=0)
    gate = Gate()
    consumer = _consumer(kafka, gate)

    async def broken(message_ids: Sequence[str]) -> set[str]:
        raise KeyError("bug")

    monkeypatch.setattr(consumer, "_known", broken)
    await consumer.on_batch([_record(0), _record(1, user=1)])
    assert kafka.seeks == [(TopicPartition(TOPIC, 0), 0)]
    assert gate.seen == []
