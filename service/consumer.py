"""The Kafka edge: intake of record batches, key-ordered scheduling, offset commits, rebalances.

The only module that knows about offsets and acks. FastStream delivers batches (one subscriber,
`batch=True`, `AckPolicy.MANUAL`: FastStream never commits; its default ACK_FIRST would be
at-most-once, and `msg.ack()` would commit every assigned partition's position). Each record is
decoded, pre-checked against the inbox and handed to the `KeyedScheduler`, which processes
different users concurrently and one user's messages in order. Offsets are committed per
partition, only up to the lowest message not yet finished, and only after the transaction that
recorded those messages committed. When the in-flight bound is reached, fetching is paused
(not blocked: the poll loop keeps running, so the group membership holds).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from typing import Any

import structlog
from aiokafka import ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata

from service.errors import IngestorError
from service.ingest import Ingest
from service.messages import parse_input
from service.metrics import Metrics
from service.offsets import PartitionOffsets
from service.processor import Intake
from service.scheduler import InboundRecord, KeyedScheduler, Work

log = structlog.get_logger(__name__)

TP = tuple[str, int]


class Progress:
    """When the consume loop last polled and the pipeline last moved (for the liveness probe)."""

    def __init__(self) -> None:
        self.last_poll = time.monotonic()
        self.last_progress = time.monotonic()

    def polled(self) -> None:
        """The consume loop delivered a batch (or an empty poll)."""
        self.last_poll = self.last_progress = time.monotonic()

    def moved(self) -> None:
        """A message made progress: an attempt, a retry or its end."""
        self.last_progress = time.monotonic()


class Consumer:
    """Takes record batches from FastStream and commits what is safely done."""

    def __init__(
        self,
        *,
        ingest: Ingest,
        scheduler: KeyedScheduler,
        progress: Progress,
        metrics: Metrics,
        max_in_flight: int,
        commit_interval_s: float = 0.5,
        revoke_timeout_s: float = 15.0,
    ) -> None:
        self._ingest = ingest
        self._metrics = metrics
        self._max_in_flight = max_in_flight
        self._commit_interval_s = commit_interval_s
        self._revoke_timeout_s = revoke_timeout_s
        self.scheduler = scheduler
        self.progress = progress
        self._offsets: dict[TP, PartitionOffsets] = {}
        self._committed: dict[TP, int] = {}
        self._kafka: Any = None  # the aiokafka consumer, once FastStream started it
        self._paused = False
        self._commit_task: asyncio.Task[None] | None = None
        self._stopping = False

    # --- wiring ------------------------------------------------------------------------------
    def attach(self, kafka_consumer: Any) -> None:
        """Give the consumer FastStream's aiokafka consumer (after the broker started)."""
        self._kafka = kafka_consumer
        if self._commit_task is None:
            self._commit_task = asyncio.create_task(self._commit_loop(), name="offset-committer")

    def listener(self) -> ConsumerRebalanceListener:
        """The rebalance listener to pass to the subscriber."""
        return _Listener(self)

    @property
    def in_flight(self) -> int:
        """Messages taken and not finished."""
        return self.scheduler.accepted

    # --- intake ------------------------------------------------------------------------------
    async def on_batch(self, records: Sequence[Any]) -> None:
        """Decode a batch of aiokafka ConsumerRecords and schedule them; never blocks long."""
        self.progress.polled()
        if self._stopping or not records:
            return
        works: list[Work] = []
        for raw in records:
            record = InboundRecord(
                topic=raw.topic,
                partition=raw.partition,
                offset=raw.offset,
                key=raw.key,
                value=raw.value,
                headers=tuple((k, v or b"") for k, v in (raw.headers or ())),
            )
            try:
                event = parse_input(
                    record.value,
                    record.headers,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                )
                works.append(Work(record, event.user_id, Intake(event, None)))
            except IngestorError as error:
                # Nothing to order it by: a key of its own, processed (dead-lettered) at once.
                unique = f"invalid:{record.topic}:{record.partition}:{record.offset}"
                works.append(Work(record, unique, Intake(None, error)))
        known = await self._known([w.payload.event.message_id for w in works if w.payload.event])
        # A rebalance may have revoked a partition while this batch waited: its records are
        # the new owner's now (never taken here, never committed here).
        assigned = (
            {(tp.topic, tp.partition) for tp in self._kafka.assignment()}
            if self._kafka is not None
            else None
        )
        for work in works:
            if assigned is not None and (work.record.topic, work.record.partition) not in assigned:
                continue
            intake: Intake = work.payload
            if intake.event is not None and intake.event.message_id in known:
                work.payload = Intake(intake.event, None, duplicate=True)
            tp = (work.record.topic, work.record.partition)
            self._offsets.setdefault(tp, PartitionOffsets()).start(work.record.offset)
            self.scheduler.submit(work)
        self._metrics.in_flight.set(self.scheduler.accepted)
        if not self.scheduler.has_capacity():
            self._pause()

    async def _known(self, message_ids: list[str]) -> set[str]:
        try:
            return await self._ingest.known(message_ids)
        except IngestorError:
            return set()  # only an optimisation: the inbox claim in the transaction decides

    def finished(self, work: Work) -> None:
        """A message is finished (recorded, skipped or dead-lettered): its offset may commit."""
        tp = (work.record.topic, work.record.partition)
        offsets = self._offsets.get(tp)
        if offsets is not None:
            offsets.finish(work.record.offset)
        self.progress.moved()
        self._metrics.in_flight.set(self.scheduler.accepted)
        if self._paused and self.scheduler.accepted <= self._max_in_flight // 2:
            self._resume()

    def _pause(self) -> None:
        if self._kafka is not None and not self._paused:
            self._kafka.pause(*self._kafka.assignment())
            self._paused = True

    def _resume(self) -> None:
        if self._kafka is not None and self._paused:
            self._kafka.resume(*self._kafka.assignment())
            self._paused = False

    # --- commits -----------------------------------------------------------------------------
    async def _commit_loop(self) -> None:
        while True:
            await asyncio.sleep(self._commit_interval_s)
            with contextlib.suppress(Exception):
                await self.commit()
            self._update_lag()

    async def commit(self, partitions: Sequence[TP] | None = None) -> None:
        """Commit, per partition, the offset below which everything is finished."""
        if self._kafka is None:
            return
        assigned = {(tp.topic, tp.partition) for tp in self._kafka.assignment()}
        to_commit: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp, offsets in list(self._offsets.items()):
            if partitions is not None and tp not in partitions:
                continue
            if tp not in assigned:
                continue
            position = offsets.committable()
            if position is not None and position > self._committed.get(tp, -1):
                to_commit[TopicPartition(*tp)] = OffsetAndMetadata(position, "")
        if not to_commit:
            return
        try:
            await self._kafka.commit(to_commit)
        except KafkaError as exc:
            log.warning("offset commit failed; will retry", error=type(exc).__name__)
            return
        for tp, meta in to_commit.items():
            self._committed[(tp.topic, tp.partition)] = meta.offset

    def _update_lag(self) -> None:
        if self._kafka is None:
            return
        for tp in self._kafka.assignment():
            end = self._kafka.highwater(tp)
            if end is None:
                continue
            committed = self._committed.get((tp.topic, tp.partition))
            if committed is None:
                committed = self._kafka.last_stable_offset(tp) or end
            self._metrics.consumer_lag.labels(tp.topic, str(tp.partition)).set(
                max(0, end - committed)
            )

    # --- rebalances and shutdown -------------------------------------------------------------
    async def revoke(self, revoked: Sequence[TP]) -> None:
        """Partitions leave us: finish (bounded) or abandon their work, commit, forget them."""
        wanted = set(revoked)
        self.scheduler.drop(wanted)
        if not await self.scheduler.drain(wanted, timeout=self._revoke_timeout_s):
            abandoned = await self.scheduler.cancel(wanted)
            log.warning("abandoned in-flight messages on revocation", count=abandoned)
        await self.commit(list(wanted))
        for tp in wanted:
            self._offsets.pop(tp, None)
            self._committed.pop(tp, None)
        self._paused = False

    async def shutdown(self, timeout_s: float) -> None:
        """Stop taking work, finish what runs (bounded), commit what is done."""
        self._stopping = True
        self.scheduler.close()
        self._pause()
        dropped = self.scheduler.drop_all()
        finished = await self.scheduler.drain(None, timeout=timeout_s)
        abandoned = 0 if finished else await self.scheduler.cancel(None)
        await self.commit()
        if self._commit_task is not None:
            self._commit_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._commit_task
        log.info("consumer stopped", dropped=dropped, abandoned=abandoned)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: Consumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._consumer.revoke([(tp.topic, tp.partition) for tp in revoked])

    async def on_partitions_assigned(self, assigned: Any) -> None:
        log.info(
            "partitions assigned", partitions=sorted(f"{t.topic}:{t.partition}" for t in assigned)
        )
