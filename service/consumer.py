"""The Kafka edge: intake of record batches, key-ordered scheduling, offset commits, rebalances.

The only module that knows about offsets and acks. FastStream delivers batches (one subscriber,
`batch=True`, `AckPolicy.MANUAL`: FastStream never commits; its default ACK_FIRST would be
at-most-once, and `msg.ack()` would commit every assigned partition's position). Each record is
decoded, pre-checked against the inbox and handed to the `KeyedScheduler`, which processes
different users concurrently and one user's messages in order. Offsets are committed per
partition, only up to the lowest message not yet finished, and only after the transaction that
recorded those messages committed. When the in-flight bound is reached, fetching is paused
(not blocked: the poll loop keeps running, so the group membership holds).

The rule it keeps: every record fetched is either processed or dead-lettered; no exception of
any type, in any layer, lets the commit move past a record that was not. So it owns the raw
records: FastStream hands them over through `raw_batch_parser`, which decodes nothing and
cannot raise (FastStream's own batch parser decodes every header as UTF-8 and would drop the
whole batch for one binary header); each record is decoded by `parse_input`, which turns any
failure into a dead-letter reason; and the per-partition `PartitionOffsets` commits only
contiguously over records it saw finish, fetching a gap again rather than passing it. Below
FastStream, aiokafka's record decoding itself would raise for the whole fetch on a header key
that is not UTF-8 (and stop the partition for good): `service.record_batches` makes it decode
such a key leniently, so that the record reaches `parse_input` and is dead-lettered. A batch
fetched before a rebalance (its assignment generation is gone) is dropped: the new
assignment fetches it again from the committed offset.
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
from faststream.kafka import KafkaMessage
from faststream.kafka.message import FAKE_CONSUMER

from service.errors import IngestorError, error_location
from service.ingest import Ingest
from service.messages import parse_input
from service.metrics import Metrics
from service.offsets import Accept, PartitionOffsets
from service.processor import Intake
from service.record_batches import install as install_lenient_record_batches
from service.scheduler import InboundRecord, KeyedScheduler, Work
from service.shutdown import stop_tasks

log = structlog.get_logger(__name__)

TP = tuple[str, int]


class FetchedBatch(tuple[Any, ...]):
    """The records of one poll, as aiokafka returned them, stamped with the assignment
    generation they were fetched under."""

    generation: int = -1


def inbound_record(raw: Any) -> InboundRecord:
    """An aiokafka ConsumerRecord as the pipeline sees it: bytes kept as bytes, nulls as None."""
    timestamp = getattr(raw, "timestamp", None)
    return InboundRecord(
        topic=raw.topic,
        partition=raw.partition,
        offset=raw.offset,
        key=raw.key,
        value=raw.value,
        headers=tuple((str(k), None if v is None else bytes(v)) for k, v in (raw.headers or ())),
        timestamp=timestamp if isinstance(timestamp, int) else None,
    )


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
        install_lenient_record_batches()  # before FastStream's consumer fetches anything
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
        # Bumped at every revocation and assignment: a batch fetched under an older
        # generation belongs to an assignment that is gone.
        self._generation = 0

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
    async def raw_batch_parser(self, records: Sequence[Any]) -> KafkaMessage:
        """FastStream's parser for our subscriber: keep the raw records, decode nothing.

        Runs right after the poll, so the batch is stamped with the generation it was fetched
        under. Cannot raise: no header is decoded, no value is read.
        """
        batch = FetchedBatch(records)
        batch.generation = self._generation
        return KafkaMessage(
            batch,
            body=[r.value or b"" for r in batch],
            message_id=f"batch-{self._generation}",
            correlation_id="",
            consumer=FAKE_CONSUMER,
        )

    async def on_batch(self, records: Sequence[Any]) -> None:
        """Decode a batch of aiokafka ConsumerRecords and schedule them; never raises."""
        self.progress.polled()
        if self._stopping or not records:
            return
        generation = getattr(records, "generation", self._generation)
        taken: set[tuple[TP, int]] = set()
        try:
            await self._take(records, generation, taken)
        except Exception as exc:
            # A bug while taking the batch: nothing of it may be committed unseen. The records
            # not taken are fetched again (the tracker never passes them in any case).
            self._metrics.intake_faults.labels("intake_error").inc()
            log.error(
                "taking a batch failed; fetching it again",
                error_type=type(exc).__name__,
                where=error_location(exc),
            )
            self._rewind(records, taken)

    async def _take(
        self, records: Sequence[Any], generation: int, taken: set[tuple[TP, int]]
    ) -> None:
        works = self._decode(records)
        known = await self._known([w.payload.event.message_id for w in works if w.payload.event])
        new_trackers: dict[TP, PartitionOffsets] = {}
        for tp in {(w.record.topic, w.record.partition) for w in works} - self._offsets.keys():
            new_trackers[tp] = PartitionOffsets(await self._committed_position(tp))
        if generation != self._generation:
            # Fetched before a rebalance: the new assignment fetches these again from the
            # committed offset (aiokafka forgets positions at every assignment).
            self._metrics.intake_faults.labels("stale_batch").inc()
            log.info("dropped a batch fetched before a rebalance", records=len(works))
            return
        for tp, tracker in new_trackers.items():
            if tp not in self._offsets:
                self._offsets[tp] = tracker
                if tracker.expected is not None:
                    self._committed[tp] = tracker.expected
        assigned = self._assigned()
        refetching: set[TP] = set()
        for work in works:
            tp = (work.record.topic, work.record.partition)
            if tp in refetching or (assigned is not None and tp not in assigned):
                continue
            offsets = self._offsets[tp]
            verdict = offsets.accept(work.record.offset)
            if verdict is Accept.SEEN:
                taken.add((tp, work.record.offset))
                continue
            if verdict is Accept.GAP:
                refetching.add(tp)
                self._metrics.intake_faults.labels("gap_refetch").inc()
                log.warning(
                    "offsets never seen below a fetched record; fetching them again",
                    topic=tp[0],
                    partition=tp[1],
                    expected=offsets.expected,
                    fetched=work.record.offset,
                )
                self._seek(tp, offsets.expected)
                continue
            intake: Intake = work.payload
            if intake.event is not None and intake.event.message_id in known:
                work.payload = Intake(intake.event, None, duplicate=True)
            taken.add((tp, work.record.offset))
            self.scheduler.submit(work)
        self._metrics.in_flight.set(self.scheduler.accepted)
        if not self.scheduler.has_capacity():
            self._pause()

    @staticmethod
    def _decode(records: Sequence[Any]) -> list[Work]:
        """Each record as work: its event, or the reason it is invalid (never raises for it)."""
        works: list[Work] = []
        for raw in records:
            record = inbound_record(raw)
            try:
                event = parse_input(
                    record.value,
                    record.headers,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    timestamp=record.timestamp,
                )
                works.append(Work(record, event.user_id, Intake(event, None)))
            except IngestorError as error:
                # Nothing to order it by: a key of its own, processed (dead-lettered) at once.
                unique = f"invalid:{record.topic}:{record.partition}:{record.offset}"
                works.append(Work(record, unique, Intake(None, error)))
        return works

    def _assigned(self) -> set[TP] | None:
        if self._kafka is None:
            return None
        return {(tp.topic, tp.partition) for tp in self._kafka.assignment()}

    async def _committed_position(self, tp: TP) -> int | None:
        """The partition's committed offset, where a new tracker starts (None: unknown)."""
        if self._kafka is None:
            return None
        try:
            committed = await self._kafka.committed(TopicPartition(*tp))
        except Exception as exc:  # unknown: the tracker starts at the first record fetched
            log.warning("committed offset unknown", error=type(exc).__name__)
            return None
        return committed if isinstance(committed, int) and committed >= 0 else None

    def _seek(self, tp: TP, offset: int | None) -> None:
        if self._kafka is None or offset is None:
            return
        try:
            self._kafka.seek(TopicPartition(*tp), offset)
        except Exception as exc:  # not assigned any more: the new owner starts from the commit
            log.warning("seek failed", error=type(exc).__name__)

    def _rewind(self, records: Sequence[Any], taken: set[tuple[TP, int]]) -> None:
        """Seek each partition of a failed batch back to its first record not taken."""
        first: dict[TP, int] = {}
        for raw in records:
            with contextlib.suppress(Exception):
                tp = (raw.topic, raw.partition)
                if (tp, raw.offset) not in taken and tp not in first:
                    first[tp] = raw.offset
        for tp, offset in first.items():
            tracked = self._offsets.get(tp)
            expected = tracked.expected if tracked is not None else None
            self._seek(tp, min(offset, expected) if expected is not None else offset)

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
        self._after_release()

    def abandoned(self, work: Work) -> None:
        """A message was abandoned (cancelled): never committed, but its place is free."""
        self._after_release()

    def _after_release(self) -> None:
        self._metrics.in_flight.set(self.scheduler.accepted)
        if self._paused and self.scheduler.accepted <= self._max_in_flight // 2:
            self._resume()

    def _pause(self) -> None:
        """Stop fetching on every partition assigned now (again, if some are new)."""
        if self._kafka is not None:
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
        self._generation += 1
        wanted = set(revoked)
        self.scheduler.drop(wanted)
        if not await self.scheduler.drain(wanted, timeout=self._revoke_timeout_s):
            abandoned = await self.scheduler.cancel(wanted)
            log.warning("abandoned in-flight messages on revocation", count=abandoned)
        await self.commit(list(wanted))
        for tp in wanted:
            self._offsets.pop(tp, None)
            self._committed.pop(tp, None)
        self._after_release()

    def assigned(self, partitions: Sequence[TP]) -> None:
        """A new assignment: aiokafka starts it unpaused, so pause it again if we are full."""
        self._generation += 1
        for tp in partitions:
            self._offsets.pop(tp, None)  # a new tracker starts at the committed offset
            self._committed.pop(tp, None)
        if self._kafka is None:
            return
        if self.scheduler.has_capacity():
            self._paused = False
        else:
            self._pause()

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
            await stop_tasks([self._commit_task], timeout_s=1.0, name="offset commits")
        log.info("consumer stopped", dropped=dropped, abandoned=abandoned)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, consumer: Consumer) -> None:
        self._consumer = consumer

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._consumer.revoke([(tp.topic, tp.partition) for tp in revoked])

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self._consumer.assigned([(tp.topic, tp.partition) for tp in assigned])
        log.info(
            "partitions assigned", partitions=sorted(f"{t.topic}:{t.partition}" for t in assigned)
        )
