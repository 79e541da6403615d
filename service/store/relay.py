"""The outbox relay: publishes queued records to Kafka in order, then marks them sent.

One relay publishes at a time across all replicas (a transaction-scoped advisory lock), so
records leave in outbox order and a user's derived events keep their order. The producer is
idempotent and every send of a round is awaited together, not one round trip per record. A
crash between publishing and marking sends the same records again, with the same `ce_id`:
consumers see at-least-once delivery with stable ids, never a different id for one change.

What never re-sends a record this process saw delivered, and never lets one record hold up
the others:
- a record the broker acknowledged is remembered until its row is marked sent: when the
  `UPDATE` fails (read-only database, revoked privilege, connection lost), the next rounds
  retry the marking first, with exponential backoff, and publish nothing new meanwhile;
- a round waits PUBLISH_TIMEOUT_S for acknowledgements but never cancels a send: a record
  acknowledged late is marked sent by a later round, and is not selected again while in flight;
- a record Kafka will never accept (`MessageSizeTooLargeError`, a record list too large, an
  invalid record) is sent again alone, since the broker refuses a whole batch for one record;
  refused alone, its row is parked (`parked_at`, `park_reason`, the metric
  `ingestor_outbox_parked_total`, the gauge `ingestor_outbox_parked_rows` and an alert) and the
  rows behind it flow. A parked row stays until an operator deletes it or clears `parked_at`;
- any other failure of a topic (missing, unauthorised, broker unreachable) sets that topic
  aside, for 0.5 s the first time and twice as long at each failure in a row, up to
  TOPIC_BACKOFF_S (so a broker back after an outage is used again within about a second or
  two); the records acknowledged before it are marked, the others wait;
- retention of sent rows runs in its own task, in small batches, so that a slow `DELETE`
  never stops publishing.
Re-sent after a failure, a record can arrive after a later record of its topic (order is kept
per partition by the producer only among records sent together); a consumer orders a user's
derived events by `ce_time` and de-duplicates by `ce_id`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from aiokafka import errors as kafka_errors
from opentelemetry import trace
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.errors import IngestorError
from service.messages import headers_from_json
from service.metrics import Metrics
from service.shutdown import stop_tasks
from service.store.database import Database

log = structlog.get_logger(__name__)

RELAY_LOCK_KEY = 0x41_4C_49_43  # "ALIC": one relay at a time across replicas
# Retention runs in small batches, each its own short transaction, in a task of its own:
# sent outbox rows after a day, inbox rows after INBOX_RETENTION_DAYS (longer than any
# redelivery: Kafka's retention is 7 days by default).
RETENTION_BATCH = 1_000
PUBLISH_TIMEOUT_S = 5.0  # how long a round waits for acknowledgements (sends are not cancelled)
TOPIC_BACKOFF_S = 60.0  # the longest a failing topic is set aside
TOPIC_BACKOFF_INITIAL_S = 0.5  # the first time: doubled at each failure in a row, up to the above
ROUND_BACKOFF_MAX_S = 30.0  # ceiling of the backoff after failed rounds
GAUGE_INTERVAL_S = 5.0
# Refusals of the record itself: sent alone, a record refused again is parked. The broker
# refuses a whole batch for one oversized record; aiokafka maps INVALID_RECORD (87) to
# UnknownError, which is therefore isolated too (a record is parked only when refused alone).
RECORD_ERRORS: tuple[type[BaseException], ...] = (
    kafka_errors.MessageSizeTooLargeError,
    kafka_errors.RecordTooLargeError,
    kafka_errors.RecordListTooLargeError,
    kafka_errors.UnknownError,
)
# Raised by send() before the record is queued, about the record itself (a size above the
# producer's max_request_size, a value of the wrong type): parked at once.
REFUSED_AT_SEND: tuple[type[BaseException], ...] = (
    kafka_errors.MessageSizeTooLargeError,
    kafka_errors.RecordTooLargeError,
    TypeError,
    ValueError,
)
OUTBOX_RETENTION_SQL = (
    "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox"
    " WHERE sent_at < now() - interval '1 day' LIMIT :n)"
)
INBOX_RETENTION_SQL = (
    "DELETE FROM inbox WHERE message_id IN (SELECT message_id FROM inbox"
    " WHERE processed_at < now() - make_interval(days => :days) LIMIT :n)"
)


class RecordPublisher(Protocol):
    """What the relay needs of a Kafka producer."""

    async def send(
        self,
        topic: str,
        value: bytes | None = None,
        key: bytes | None = None,
        headers: Sequence[tuple[str, bytes | None]] | None = None,
    ) -> Awaitable[Any]:
        """Queue a record; the returned awaitable resolves when the broker acknowledged it."""
        ...


@dataclass(frozen=True, slots=True)
class _Row:
    id: int
    topic: str
    key: bytes | None
    headers: Any
    payload: bytes | None
    event_type: str


class OutboxRelay:
    """Moves outbox rows to Kafka."""

    def __init__(
        self,
        *,
        database: Database,
        publisher: RecordPublisher,
        batch_size: int,
        poll_interval_s: float,
        metrics: Metrics,
        tracer: trace.Tracer | None = None,
        inbox_retention_days: int = 30,
        retention_interval_s: float = 3600.0,
        publish_timeout_s: float = PUBLISH_TIMEOUT_S,
        topic_backoff_s: float = TOPIC_BACKOFF_S,
    ) -> None:
        self._inbox_retention_days = inbox_retention_days
        self._retention_interval_s = retention_interval_s
        self._publish_timeout_s = publish_timeout_s
        self._topic_backoff_s = topic_backoff_s
        self._topic_backoff: dict[str, float] = {}
        self._topic_failures: dict[str, int] = {}  # failures in a row, per topic
        self._tracer = tracer or trace.NoOpTracer()
        self._database = database
        self._publisher = publisher
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._metrics = metrics
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        # Sent and not acknowledged yet; acknowledged (or refused) and not marked yet.
        self._in_flight: dict[int, tuple[_Row, asyncio.Future[Any]]] = {}
        self._sent: dict[int, _Row] = {}
        self._parked: dict[int, tuple[_Row, str]] = {}
        self._isolate: dict[int, _Row] = {}
        self._reset_producer = False

    def notify(self) -> None:
        """New rows were committed: publish soon."""
        self._wake.set()

    def start(self) -> None:
        """Run the relay loop and, apart from it, the gauges and retention."""
        self._tasks = [
            asyncio.create_task(self._run(), name="outbox-relay"),
            asyncio.create_task(self._maintain(), name="outbox-maintenance"),
        ]

    async def _run(self) -> None:
        failures = 0
        while True:
            # asyncio.timeout, not asyncio.wait_for: on Python 3.11, wait_for returns the
            # inner result when a cancellation arrives just as the wake-up does (a commit's
            # notify() during shutdown), swallowing the cancel: the loop then never ended.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_interval_s):
                    await self._wake.wait()
            self._wake.clear()
            try:
                while await self.publish_pending() >= self._batch_size:
                    pass
                failures = 0
            except Exception as exc:
                failures += 1
                ceiling = min(ROUND_BACKOFF_MAX_S, self._poll_interval_s * 2 ** min(failures, 10))
                delay = random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter
                reason = exc.reason if isinstance(exc, IngestorError) else None
                log.warning(
                    "outbox relay round failed",
                    error=getattr(exc, "code", type(exc).__name__),
                    reason=reason,
                    retry_in_s=round(delay, 2),
                )
                await asyncio.sleep(delay)

    async def publish_pending(self) -> int:
        """Mark what was acknowledged, then publish one round of unsent rows (oldest first).

        Returns how many rows were taken this round. Topics are published independently:
        order matters within a topic (a user's derived events), not across topics.
        """
        now = time.monotonic()
        blocked = [t for t, until in self._topic_backoff.items() if until > now]
        async with self._database.transaction() as connection:
            locked = await connection.scalar(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RELAY_LOCK_KEY}
            )
            if not locked:
                return 0
            self._harvest()
            marked = await self._mark(connection)
            if self._isolate:  # before anything newer of their topics
                await self._publish_alone()
                self._harvest()
            rows = [
                _Row(*row)
                for row in await connection.execute(
                    text(
                        "SELECT id, topic, key, headers, payload, event_type FROM outbox"
                        " WHERE sent_at IS NULL AND parked_at IS NULL"
                        " AND topic <> ALL(CAST(:blocked AS text[]))"
                        " AND id <> ALL(CAST(:busy AS bigint[])) ORDER BY id LIMIT :n"
                    ),
                    {
                        "n": self._batch_size,
                        "blocked": blocked,
                        "busy": [*self._in_flight, *self._isolate, *self._sent, *self._parked],
                    },
                )
            ]
            if rows:
                with self._tracer.start_as_current_span("outbox publish") as span:
                    span.set_attribute("messaging.batch.message_count", len(rows))
                    await self._publish(rows)
                    self._harvest()
                    await self._publish_alone()
                self._harvest()
            if self._sent or self._parked:
                later = await self._mark(connection)
                marked = (marked[0] | later[0], marked[1] | later[1])
        self._marked(*marked)
        if self._reset_producer:
            await self._reset()
        return len(rows)

    async def _reset(self) -> None:
        """A new producer (a new producer id) after OutOfOrderSequenceNumber.

        aiokafka's idempotent producer does not recover a partition's sequence after the broker
        refused a batch (one oversized record): every later batch of that partition fails. The
        old producer is stopped once the new one runs; what it still had in flight resolves
        (delivered or not) and is sorted out by the next round.
        """
        reset = getattr(self._publisher, "reset", None)
        if reset is not None:
            log.warning("outbox producer replaced after an out-of-order sequence")
            await reset()
        self._reset_producer = False

    async def _publish(self, rows: list[_Row]) -> None:
        """Queue every row (topics side by side, each in order), then wait a while for the
        acknowledgements without cancelling any send."""
        by_topic: dict[str, list[_Row]] = {}
        for row in rows:
            by_topic.setdefault(row.topic, []).append(row)
        queued = await asyncio.gather(*(self._queue(t, r) for t, r in by_topic.items()))
        futures = [future for topic_futures in queued for future in topic_futures]
        if futures:
            await asyncio.wait(futures, timeout=self._publish_timeout_s)

    async def _queue(self, topic: str, rows: list[_Row]) -> list[asyncio.Future[Any]]:
        """Queue one topic's rows in order; a topic that cannot take them is set aside (a
        missing topic makes send() wait for metadata: bounded by the round's timeout)."""
        futures: list[asyncio.Future[Any]] = []
        try:
            async with asyncio.timeout(self._publish_timeout_s):
                for row in rows:
                    try:
                        future = await self._send(row)
                    except REFUSED_AT_SEND as refused:
                        self._parked[row.id] = (row, type(refused).__name__)
                        continue
                    self._in_flight[row.id] = (row, future)
                    futures.append(future)
        except Exception as exc:
            self._set_aside(topic, exc)  # the rows behind wait: order within a topic
        return futures

    async def _publish_alone(self) -> None:
        """Send each row of a refused batch alone: only a row refused alone is parked."""
        for row_id in sorted(self._isolate):
            row = self._isolate.pop(row_id)
            if self._topic_backoff.get(row.topic, 0.0) > time.monotonic():
                continue
            try:
                async with asyncio.timeout(self._publish_timeout_s):
                    future = await self._send(row)
            except REFUSED_AT_SEND as refused:
                self._parked[row.id] = (row, type(refused).__name__)
                continue
            except Exception as exc:
                self._set_aside(row.topic, exc)
                continue
            done, _ = await asyncio.wait([future], timeout=self._publish_timeout_s)
            if not done:
                self._in_flight[row.id] = (row, future)
            elif isinstance(future.exception(), RECORD_ERRORS):
                self._parked[row.id] = (row, type(future.exception()).__name__)
            elif isinstance(future.exception(), kafka_errors.OutOfOrderSequenceNumber):
                self._reset_producer = True  # not written: sent again by the next round
            elif future.exception() is not None:
                self._set_aside(row.topic, future.exception())
            else:
                self._sent[row.id] = row

    async def _send(self, row: _Row) -> asyncio.Future[Any]:
        queued = await self._publisher.send(
            row.topic, value=row.payload, key=row.key, headers=headers_from_json(row.headers)
        )
        return asyncio.ensure_future(queued)

    def _harvest(self) -> None:
        """Sort the acknowledged and refused sends out of those in flight."""
        for row_id, (row, future) in list(self._in_flight.items()):
            if not future.done():
                continue
            del self._in_flight[row_id]
            error = future.exception() if not future.cancelled() else asyncio.CancelledError()
            if error is None:
                self._sent[row_id] = row
            elif isinstance(error, RECORD_ERRORS):
                self._isolate[row_id] = row
            elif not isinstance(error, kafka_errors.OutOfOrderSequenceNumber):
                self._set_aside(row.topic, error)
            else:
                self._reset_producer = True
            # OutOfOrderSequenceNumber: a batch behind a refused one, not written; sent again
            # by the next round, through a new producer (see `_reset`).

    def _set_aside(self, topic: str, error: BaseException | None) -> None:
        if self._topic_backoff.get(topic, 0.0) > time.monotonic():
            return  # set aside already (another row of the same round)
        failures = self._topic_failures.get(topic, 0) + 1
        self._topic_failures[topic] = failures
        delay = min(self._topic_backoff_s, TOPIC_BACKOFF_INITIAL_S * 2 ** min(failures - 1, 16))
        log.warning(
            "outbox topic failing; set aside",
            topic=topic,
            error=type(error).__name__,
            retry_in_s=delay,
        )
        self._topic_backoff[topic] = time.monotonic() + delay

    async def _mark(self, connection: AsyncConnection) -> tuple[set[int], set[int]]:
        """Mark the acknowledged rows sent and the refused ones parked (not yet committed)."""
        sent, parked = set(self._sent), set(self._parked)
        if sent:
            await connection.execute(
                text("UPDATE outbox SET sent_at = now() WHERE id = ANY(CAST(:ids AS bigint[]))"),
                {"ids": sorted(sent)},
            )
        if parked:
            await connection.execute(
                text(
                    "UPDATE outbox SET parked_at = now(), park_reason = x.r"
                    " FROM unnest(CAST(:ids AS bigint[]), CAST(:reasons AS text[])) AS x(i, r)"
                    " WHERE outbox.id = x.i"
                ),
                {
                    "ids": sorted(parked),
                    "reasons": [self._parked[i][1] for i in sorted(parked)],
                },
            )
        return sent, parked

    def _marked(self, sent: set[int], parked: set[int]) -> None:
        """The marking committed: forget those rows, count them."""
        for row_id in sent:
            row = self._sent.pop(row_id)
            self._topic_failures.pop(row.topic, None)  # it works again: back to 0.5 s
            kind = "dead_letter" if row.event_type == "dead_letter" else "derived"
            self._metrics.published.labels(kind).inc()
        for row_id in parked:
            row, reason = self._parked.pop(row_id)
            self._metrics.outbox_parked.labels(reason).inc()
            log.error("outbox record refused by Kafka; parked", topic=row.topic, reason=reason)

    @property
    def idle(self) -> bool:
        """Nothing in flight, nothing waiting to be marked."""
        return not (self._in_flight or self._sent or self._parked or self._isolate)

    async def _maintain(self) -> None:
        """Gauges every few seconds and retention every retention interval, apart from
        publishing: neither can hold up a round."""
        last_retention = time.monotonic()
        while True:
            await asyncio.sleep(GAUGE_INTERVAL_S)
            try:
                await self.update_gauges()
                if time.monotonic() - last_retention >= self._retention_interval_s:
                    last_retention = time.monotonic()
                    await self.apply_retention()
            except Exception as exc:
                log.warning("outbox maintenance failed", error=type(exc).__name__)

    async def update_gauges(self) -> None:
        """Backlog, age of the oldest unsent row, parked rows (each on its partial index)."""
        async with self._database.transaction() as connection:
            backlog, oldest = (
                await connection.execute(
                    text(
                        "SELECT count(*), min(created_at) FROM outbox"
                        " WHERE sent_at IS NULL AND parked_at IS NULL"
                    )
                )
            ).one()
            parked = await connection.scalar(
                text("SELECT count(*) FROM outbox WHERE parked_at IS NOT NULL")
            )
        self._metrics.outbox_backlog.set(backlog)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
        self._metrics.outbox_oldest_age.set(max(0.0, age))
        self._metrics.outbox_parked_rows.set(parked or 0)

    async def apply_retention(self) -> int:
        """Delete sent outbox rows older than a day and inbox rows past their retention."""
        deleted = 0
        for sql, params in (
            (OUTBOX_RETENTION_SQL, {"n": RETENTION_BATCH}),
            (INBOX_RETENTION_SQL, {"n": RETENTION_BATCH, "days": self._inbox_retention_days}),
        ):
            while True:
                async with self._database.transaction() as connection:
                    result = await connection.execute(text(sql), params)
                count = int(getattr(result, "rowcount", 0) or 0)
                deleted += count
                if count < RETENTION_BATCH:
                    break
                await asyncio.sleep(0.05)  # let other work use the database between batches
        return deleted

    @property
    def stopped(self) -> bool:
        """Every loop of the relay has ended."""
        return all(task.done() for task in self._tasks)

    async def stop(self, *, flush_timeout_s: float) -> None:
        """Stop the loops, then publish what is queued: all within `flush_timeout_s`."""
        deadline = time.monotonic() + flush_timeout_s
        await stop_tasks(self._tasks, timeout_s=flush_timeout_s / 2, name="outbox relay")
        with contextlib.suppress(Exception):
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                while await self.publish_pending() or not self.idle:
                    if self._in_flight:
                        await asyncio.wait(
                            [future for _, future in self._in_flight.values()],
                            timeout=self._publish_timeout_s,
                        )
                    else:
                        await asyncio.sleep(0.05)  # e.g. another replica holds the lock
