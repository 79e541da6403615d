"""What happens to one input message: fetch, validate, record; retry or dead-letter on failure.

The failure policy, in one place:
- permanent errors (invalid input, unknown user, invalid report, refused data): dead-letter at
  once; the raw input (and raw report) is kept in the quarantine table;
- transient errors (Alice down, 429/5xx, timeouts, database unavailable): back off
  exponentially with jitter and try again, never in a hot loop. An attempt counts towards the
  bound (TRANSIENT_MAX_ATTEMPTS) only when the failure is the message's own (see `Health`):
  a message that fails alone is given up on and dead-lettered, while an outage of Alice (even
  one of the report endpoint only, with /healthcheck still green, as long as other messages
  fail too) makes messages wait instead of flushing the topic into the dead-letter topic.
  Never counted either: a 429 or a request held by the client's own budget (`AliceThrottled`:
  Alice throttles the API key, not this message), and a failure during which the client's
  circuit breaker judged Alice down for everyone (`AliceUnavailable.outage`).
- a backoff ends early when the dependency is back: the first success (a message's, or the
  database probe's) wakes every message waiting on it (`service/recovery.py`); a 429's wait
  is kept whole.
- a `Retry-After` that Alice sent (or the breaker's next probe) is honoured: the message waits
  at least that long (at most TRANSIENT_BACKOFF_MAX_S, then asks again), whatever its backoff.
Written by hand rather than with stamina: attempts that count only while the dependency is
healthy are not something a retry library expresses.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import structlog
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace

from service.alice import ReportSource
from service.batcher import WriteBatcher
from service.errors import (
    AliceThrottled,
    AliceUnavailable,
    IngestorError,
    InternalError,
    PermanentError,
    StorageOutage,
    StorageUnavailable,
    TransientError,
    error_location,
)
from service.ingest import (
    DEAD_LETTERED,
    DUPLICATE,
    DeadLetter,
    Fetched,
    Ingest,
    Recorded,
    content_hash,
    read_report,
)
from service.memory import BODY_MEMORY_FACTOR, ByteBudget
from service.messages import ERASURE_REQUESTED_KIND, InputEvent, offset_message_id
from service.metrics import Metrics
from service.minimise import Minimiser
from service.privacy.erasure import Erasure, ErasureRequest
from service.privacy.tombstones import ERASED_OUTCOME
from service.recovery import Health
from service.scheduler import Work
from service.store.repository import MessageRef
from service.tracing import trace_headers

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Intake:
    """What the consumer decoded of a record before scheduling it."""

    event: InputEvent | None
    error: IngestorError | None
    duplicate: bool = False


class HashCache:
    """The last body fetched for each user, by hash (bounded, least recently used out).

    For each user: the hash of the body as fetched and the content hash it was recorded under
    (that of its minimised body). A body whose hash equals the first is most likely unchanged,
    so the worker skips minimising and validating it and hands the second to the transaction,
    which compares it with the stored hash and reads the body after all if they differ.
    """

    def __init__(self, *, max_entries: int) -> None:
        self._max = max_entries
        self._hashes: OrderedDict[str, tuple[bytes, bytes]] = OrderedDict()

    def get(self, user_id: str, fetched: bytes) -> bytes | None:
        """The content hash recorded for this exact fetched body of the user, if known."""
        known = self._hashes.get(user_id)
        return known[1] if known is not None and known[0] == fetched else None

    def remember(self, user_id: str, fetched: bytes, recorded: bytes) -> None:
        """Note the hash of the body just fetched and the content hash it was recorded under."""
        self._hashes[user_id] = (fetched, recorded)
        self._hashes.move_to_end(user_id)
        if len(self._hashes) > self._max:
            self._hashes.popitem(last=False)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How transient failures of one message are retried."""

    max_attempts: int
    initial_s: float
    max_s: float

    def delay(self, failures: int, *, retry_after: float | None = None) -> float:
        """Exponential backoff with jitter over its upper half (failures >= 1); when the server
        said how long (`retry_after`), that long plus up to 10 % (at most `max_s`)."""
        if retry_after is not None:
            wait = min(self.max_s, retry_after)
            return wait + random.uniform(0, min(1.0, wait / 10))  # noqa: S311 - jitter
        ceiling = min(self.max_s, self.initial_s * 2 ** min(failures - 1, 30))
        return random.uniform(ceiling / 2, ceiling)  # noqa: S311 - jitter, not cryptography


class Processor:
    """Processes one scheduled message to its end: recorded, skipped or dead-lettered."""

    def __init__(
        self,
        *,
        source: ReportSource,
        ingest: Ingest,
        batcher: WriteBatcher,
        retry: RetryPolicy,
        metrics: Metrics,
        health: Health,
        on_attempt: Callable[[], None],
        on_committed: Callable[[], None],
        hash_cache_size: int = 50_000,
        tracer: trace.Tracer | None = None,
        memory: ByteBudget | None = None,
        body_reservation: int = 0,
        erasure: Erasure | None = None,
        minimiser: Minimiser | None = None,
    ) -> None:
        self._minimiser = minimiser or Minimiser(())
        self._erasure = erasure
        # Bytes reserved per fetch (the worst case of one body); see service/memory.py.
        self._memory = memory or ByteBudget(limit=1)
        self._body_reservation = body_reservation
        self._tracer = tracer or trace.NoOpTracer()
        self._tracing = not isinstance(self._tracer, trace.NoOpTracer)
        self._on_attempt = on_attempt
        self._last_hashes = HashCache(max_entries=hash_cache_size)
        self._on_committed = on_committed
        self._source = source
        self._ingest = ingest
        self._batcher = batcher
        self._retry = retry
        self._metrics = metrics
        self._health = health

    async def __call__(self, work: Work) -> None:
        """Process the work item; returns only when it is finished (or raises CancelledError)."""
        if not self._tracing:
            await self._handle(work)
            return
        # One span per message, continuing the producer's trace from the record's headers
        # (FastStream's span covers the whole batch, which has many parents).
        carrier = {k: v.decode("latin-1") for k, v in work.record.headers if v is not None}
        parent = propagate.extract(carrier, context=otel_context.get_current())
        with self._tracer.start_as_current_span(
            f"{work.record.topic} process message", context=parent, kind=trace.SpanKind.CONSUMER
        ):
            await self._handle(work)

    async def _handle(self, work: Work) -> None:
        started = time.perf_counter()
        intake: Intake = work.payload
        record = work.record
        bound = log.bind(topic=record.topic, partition=record.partition, offset=record.offset)
        if intake.event is not None:
            bound = bound.bind(user_id=intake.event.user_id, message_id=intake.event.message_id)
        try:
            if intake.duplicate:
                outcome, attempts = Recorded(DUPLICATE), 0
            elif intake.error is not None or intake.event is None:
                error = intake.error or InternalError("no event decoded")
                outcome, attempts = await self._dead_letter(work, None, error, 1), 1
            elif intake.event.kind == ERASURE_REQUESTED_KIND and self._erasure is not None:
                outcome, attempts = await self._erase(work, intake.event, self._erasure)
            else:
                outcome, attempts = await self._process(work, intake.event)
        except asyncio.CancelledError:
            bound.info("message abandoned", outcome="abandoned")
            raise
        elapsed = time.perf_counter() - started
        self._metrics.messages.labels(outcome.outcome).inc()
        self._metrics.processing.observe(elapsed)
        for event_type in outcome.derived:
            self._metrics.derived_events.labels(event_type).inc()
        bound.info(
            "message processed",
            outcome=outcome.outcome,
            derived=len(outcome.derived),
            attempts=attempts,
            duration_ms=round(elapsed * 1000, 1),
        )

    async def _process(self, work: Work, event: InputEvent) -> tuple[Recorded, int]:
        ref = _ref(work, event.message_id)
        counted = 0
        attempts = 0
        while True:
            attempts += 1
            self._on_attempt()
            attempt_started = time.monotonic()
            dependency = "alice"
            held = await self._memory.hold(self._body_reservation)
            try:
                with self._tracer.start_as_current_span("alice fetch_report"):
                    body = await self._source.fetch_report(event.user_id)
                held.shrink_to(len(body) * BODY_MEMORY_FACTOR)
                self._health.success("alice")
                fetched_hash = content_hash(body)
                parsed = None
                digest = self._last_hashes.get(event.user_id, fetched_hash)
                if digest is None:
                    # Minimised before it is hashed, validated and stored (service/minimise/).
                    parsed = read_report(body, user_id=event.user_id, minimiser=self._minimiser)
                    body = parsed.raw
                    digest = content_hash(body)
                dependency = "database"
                fetched = Fetched(
                    ref,
                    event.user_id,
                    body,
                    digest,
                    parsed,
                    datetime.now(UTC),
                    trace_headers() if self._tracing else (),
                )
                with self._tracer.start_as_current_span("db record"):
                    outcome = await self._batcher.record(fetched)
                if isinstance(outcome, IngestorError):
                    raise outcome  # noqa: TRY301 - handled by the same policy as a raised one
                self._health.success("database")
                self._last_hashes.remember(event.user_id, fetched_hash, digest)
                return outcome, attempts
            except TransientError as error:
                held.close()  # nothing is held while backing off
                self._metrics.transient_failures.labels(error.code).inc()
                retry_after = error.retry_after if isinstance(error, AliceUnavailable) else None
                # The message's own failure (the dependency works for others) counts.
                own = not not_own_fault(error) and await self._own(
                    dependency, attempt_started, event
                )
                counted += 1 if own else 0
                if counted >= self._retry.max_attempts:
                    return await self._dead_letter(work, event.user_id, error, attempts), attempts
                delay = self._retry.delay(attempts, retry_after=retry_after)
                log.warning(
                    "transient failure, retrying",
                    topic=work.record.topic,
                    partition=work.record.partition,
                    offset=work.record.offset,
                    error=error.code,
                    status=error.status,
                    attempt=attempts,
                    retry_in_s=round(delay, 2),
                )
                # Only an outage's wait ends at the dependency's recovery; a message's own
                # failure and a wait Alice asked for (Retry-After) are waited out whole.
                waited_whole = own or retry_after is not None or isinstance(error, AliceThrottled)
                await self._wait_for(None if waited_whole else dependency, delay)
            except PermanentError as error:
                return await self._dead_letter(work, event.user_id, error, attempts), attempts
            except Exception as exc:
                log.error(
                    "unexpected error", error_type=type(exc).__name__, where=error_location(exc)
                )
                internal = InternalError(f"unexpected {type(exc).__name__}")
                return await self._dead_letter(work, event.user_id, internal, attempts), attempts
            finally:
                held.close()

    async def _erase(self, work: Work, event: InputEvent, erasure: Erasure) -> tuple[Recorded, int]:
        """An erasure request from the input topic; transient failures retried like a fetch."""
        request = ErasureRequest(
            user_id=event.user_id, request_id=event.message_id, actor=f"kafka:{work.record.topic}"
        )
        attempts = 0
        while True:
            attempts += 1
            self._on_attempt()
            try:
                erased = await erasure.erase(request, message=_ref(work, event.message_id))
            except TransientError as error:
                self._metrics.transient_failures.labels(error.code).inc()
                if attempts >= self._retry.max_attempts:
                    return await self._dead_letter(work, event.user_id, error, attempts), attempts
                # A database outage's wait ends when it is back; Alice's (DELETE /user) is whole.
                storage = isinstance(error, StorageUnavailable)
                await self._wait_for("database" if storage else None, self._retry.delay(attempts))
                continue
            except PermanentError as error:
                return await self._dead_letter(work, event.user_id, error, attempts), attempts
            self._on_committed()
            return Recorded(DUPLICATE if erased.duplicate else ERASED_OUTCOME), attempts

    async def _wait_for(self, outage_of: str | None, delay: float) -> None:
        """Back off for `delay`; during an outage of `outage_of`, only until its next success
        (a probe of the database runs meanwhile; Alice's breaker probes Alice): see
        service/recovery.py. With None, the whole delay."""
        if outage_of is None:
            await asyncio.sleep(delay)
            return
        if outage_of == "database":
            self._health.probe(outage_of, self._ingest.writable)
        await self._health.pause(outage_of, delay)

    async def _own(self, dependency: str, since: float, event: InputEvent) -> bool:
        """Note the failure; whether it is the message's own (it counts towards the bound)."""
        self._health.failure(dependency, event.user_id)
        return await self._counts(dependency, since, event.user_id)

    async def _counts(self, dependency: str, since: float, key: str) -> bool:
        if self._health.succeeded_since(dependency, since):
            return True  # it works for others: this message is the problem
        if self._health.others_failed_since(dependency, since, key):
            return False  # others fail too: an outage, wait it out
        if dependency != "alice":
            return False
        try:
            return await self._source.healthcheck()
        except Exception:  # a failing health check means "not healthy"
            return False

    async def _dead_letter(
        self, work: Work, user_id: str | None, error: IngestorError, attempts: int
    ) -> Recorded:
        """Quarantine and dead-letter the message; only an outage of the database waits."""
        record = work.record
        intake: Intake = work.payload
        message_id = (
            intake.event.message_id
            if intake.event is not None
            else offset_message_id(record.topic, record.partition, record.offset, record.timestamp)
        )
        letter = DeadLetter(
            ref=_ref(work, message_id),
            key=record.key,
            value=record.value,
            headers=record.headers,
            user_id=user_id,
            error=error,
            attempts=attempts,
        )
        failures = 0
        while True:
            try:
                outcome = await self._ingest.dead_letter(letter)
            except StorageUnavailable as unavailable:
                self._on_attempt()  # retrying is progress, not a stuck loop
                failures += 1
                self._metrics.transient_failures.labels(unavailable.code).inc()
                await self._wait_for("database", self._retry.delay(failures))
                continue
            except Exception:
                # Something the message brought cannot be stored (or a bug met it). First
                # drop the original headers (the dlq_* ones are rebuilt); then keep only
                # digests of the content: a last resort that cannot fail on what it holds.
                simpler = _simplified(letter, work)
                if simpler is None:
                    raise
                log.warning("dead letter refused; retrying in a simpler form")
                letter = simpler
                continue
            if outcome.outcome == DEAD_LETTERED:
                self._on_committed()
                self._metrics.dead_letters.labels(error.code).inc()
                log.warning(
                    "message dead-lettered",
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    error=error.code,
                    reason=error.reason,
                    attempts=attempts,
                )
            return outcome


def _digest(data: bytes | None) -> bytes | None:
    return None if data is None else b"sha256:" + hashlib.sha256(data).hexdigest().encode()


def _simplified(letter: DeadLetter, work: Work) -> DeadLetter | None:
    """The next simpler form of a dead letter the database refused, or None at the last one.

    1. without the original headers; 2. the key, value and report replaced by SHA-256 digests,
    the id by the record's position, the user id dropped: only ASCII the service wrote itself
    (error reasons are sanitised where they are made, see `IngestorError`).
    """
    if letter.headers:
        return replace(letter, headers=())
    record = work.record
    last = offset_message_id(record.topic, record.partition, record.offset, record.timestamp)
    if letter.ref.message_id == last and letter.value == _digest(record.value):
        return None
    return replace(
        letter,
        ref=_ref(work, last),
        key=_digest(record.key),
        value=_digest(record.value),
        user_id=None,
    )


def not_own_fault(error: IngestorError) -> bool:
    """Whether a transient failure is certainly not the message's own: Alice throttling the
    key (429, or the client's budget holding the request), an outage the client's breaker saw,
    or an outage of the database (it takes nobody's writes). Such failures never count towards
    TRANSIENT_MAX_ATTEMPTS."""
    return isinstance(error, (AliceThrottled, StorageOutage)) or (
        isinstance(error, AliceUnavailable) and error.outage
    )


def _ref(work: Work, message_id: str) -> MessageRef:
    record = work.record
    return MessageRef(message_id, record.topic, record.partition, record.offset)
