"""The outbox relay: publishes queued records to Kafka in order, then marks them sent.

One relay publishes at a time across all replicas (a transaction-scoped advisory lock), so
records leave in outbox order and a user's derived events keep their order. The producer is
idempotent and every send of a round is awaited together, not one round trip per record. A
crash between publishing and marking sends the same records again, with the same `ce_id`:
consumers see at-least-once delivery with stable ids, never a different id for one change.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog
from opentelemetry import trace
from sqlalchemy import text

from service.errors import IngestorError
from service.messages import headers_from_json
from service.metrics import Metrics
from service.store.database import Database

log = structlog.get_logger(__name__)

RELAY_LOCK_KEY = 0x41_4C_49_43  # "ALIC": one relay at a time across replicas
# Retention runs in bounded batches, so that a large backlog of old rows never makes one long
# transaction: sent outbox rows after a day, inbox rows after INBOX_RETENTION_DAYS (longer
# than any redelivery: Kafka's retention is 7 days by default).
RETENTION_BATCH = 10_000
PUBLISH_TIMEOUT_S = 5.0  # one topic's round; a failing topic delays the others at most this long
TOPIC_BACKOFF_S = 60.0  # how long a failing topic is set aside
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
    ) -> None:
        self._inbox_retention_days = inbox_retention_days
        self._retention_interval_s = retention_interval_s
        self._last_retention = time.monotonic()
        self._topic_backoff: dict[str, float] = {}
        self._tracer = tracer or trace.NoOpTracer()
        self._database = database
        self._publisher = publisher
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._metrics = metrics
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._last_housekeeping = 0.0

    def notify(self) -> None:
        """New rows were committed: publish soon."""
        self._wake.set()

    def start(self) -> None:
        """Run the relay loop in the background."""
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval_s)
            self._wake.clear()
            try:
                while await self.publish_pending() >= self._batch_size:
                    pass
                await self._housekeeping()
            except IngestorError as error:
                log.warning("outbox relay round failed", error=error.code, reason=error.reason)
            except Exception as exc:
                log.warning("outbox relay round failed", error=type(exc).__name__)
                await asyncio.sleep(self._poll_interval_s)

    async def publish_pending(self) -> int:
        """Publish one round of unsent rows (oldest first); return how many were sent.

        Topics are published independently: order matters within a topic (a user's derived
        events), not across topics, so a topic that fails (missing, unauthorised) is set aside
        for a while and never holds up the others.
        """
        now = time.monotonic()
        blocked = [t for t, until in self._topic_backoff.items() if until > now]
        async with self._database.transaction() as connection:
            locked = await connection.scalar(
                text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": RELAY_LOCK_KEY}
            )
            if not locked:
                return 0
            rows = (
                await connection.execute(
                    text(
                        "SELECT id, topic, key, headers, payload, event_type FROM outbox"
                        " WHERE sent_at IS NULL AND topic <> ALL(CAST(:blocked AS text[]))"
                        " ORDER BY id LIMIT :n"
                    ),
                    {"n": self._batch_size, "blocked": blocked},
                )
            ).all()
            if not rows:
                return 0
            by_topic: dict[str, list[Any]] = {}
            for row in rows:
                by_topic.setdefault(row.topic, []).append(row)
            with self._tracer.start_as_current_span("outbox publish") as span:
                span.set_attribute("messaging.batch.message_count", len(rows))
                outcomes = await asyncio.gather(
                    *(self._publish_topic(topic_rows) for topic_rows in by_topic.values()),
                    return_exceptions=True,
                )
            sent = []
            for (topic, topic_rows), outcome in zip(by_topic.items(), outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    self._topic_backoff[topic] = time.monotonic() + TOPIC_BACKOFF_S
                    log.warning(
                        "outbox topic failing; set aside",
                        topic=topic,
                        error=type(outcome).__name__,
                        retry_in_s=TOPIC_BACKOFF_S,
                    )
                    continue
                self._topic_backoff.pop(topic, None)
                sent.extend(topic_rows)
            if sent:
                await connection.execute(
                    text(
                        "UPDATE outbox SET sent_at = now() WHERE id = ANY(CAST(:ids AS bigint[]))"
                    ),
                    {"ids": [row.id for row in sent]},
                )
        for row in sent:
            kind = "dead_letter" if row.event_type == "dead_letter" else "derived"
            self._metrics.published.labels(kind).inc()
        return len(sent)

    async def _publish_topic(self, rows: list[Any]) -> None:
        """Send one topic's rows in order and wait for every acknowledgement (bounded)."""
        async with asyncio.timeout(PUBLISH_TIMEOUT_S):
            acks = [
                await self._publisher.send(
                    row.topic,
                    value=row.payload,
                    key=row.key,
                    headers=headers_from_json(row.headers),
                )
                for row in rows
            ]
            await asyncio.gather(*acks)

    async def _housekeeping(self) -> None:
        now = time.monotonic()
        if now - self._last_housekeeping < 5.0:
            return
        self._last_housekeeping = now
        async with self._database.transaction() as connection:
            backlog, oldest = (
                await connection.execute(
                    text("SELECT count(*), min(created_at) FROM outbox WHERE sent_at IS NULL")
                )
            ).one()
        self._metrics.outbox_backlog.set(backlog)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
        self._metrics.outbox_oldest_age.set(max(0.0, age))
        if now - self._last_retention >= self._retention_interval_s:
            self._last_retention = now
            await self.apply_retention()

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
        return deleted

    async def stop(self, *, flush_timeout_s: float) -> None:
        """Publish what is queued (bounded), then stop the loop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            async with asyncio.timeout(flush_timeout_s):
                while await self.publish_pending():
                    pass
