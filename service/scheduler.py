"""Key-ordered concurrency inside a partition: many users at once, one message per user at a time.

Written here rather than taken from a library: FastStream parallelises only across partitions
(`max_workers`), and Confluent's Parallel Consumer, the Kafka world's answer, is Java-only.
Messages with the same key run strictly one after another in offset order; different keys run
concurrently, at most `max_in_flight` at once. Each finished message is reported to
`on_finished`, which is what lets the consumer commit up to the lowest unfinished offset.

The handler must not raise. If it does anyway (a bug), the message is neither finished nor
dropped: it is tried again after a growing pause (logged each time), so a bug can hold a key
up, visibly, but can never let the commit pass a message that was not processed. Work
abandoned on purpose (cancelled on revocation or shutdown) is reported to `on_abandoned`: it
is redelivered, never committed.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any

import structlog

from service.errors import error_location
from service.shutdown import stop_tasks

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class InboundRecord:
    """A Kafka record as the pipeline sees it (independent of the client library)."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes | None], ...]
    timestamp: int | None = None


@dataclass(slots=True)
class Work:
    """One record to process, with its ordering key and whatever was decoded at intake."""

    record: InboundRecord
    key: str
    payload: Any = None


Handler = Callable[[Work], Awaitable[None]]

HANDLER_RETRY_INITIAL_S = 0.5
HANDLER_RETRY_MAX_S = 30.0
CANCEL_TIMEOUT_S = 2.0  # how long abandoned work may take to end (then it is left behind)


class KeyedScheduler:
    """Runs `handler` for each submitted work item: per-key FIFO, bounded concurrency."""

    def __init__(
        self,
        *,
        handler: Handler,
        max_in_flight: int,
        on_finished: Callable[[Work], None],
        on_abandoned: Callable[[Work], None] | None = None,
        on_handler_failure: Callable[[], None] | None = None,
        retry_initial_s: float = HANDLER_RETRY_INITIAL_S,
    ) -> None:
        self._handler = handler
        self._max = max_in_flight
        self._on_finished = on_finished
        self._on_abandoned = on_abandoned or (lambda work: None)
        self._retry_initial_s = retry_initial_s
        self._on_handler_failure = on_handler_failure or (lambda: None)
        self._queues: dict[str, deque[Work]] = {}
        self._waiting_keys: deque[str] = deque()
        self._running: dict[str, asyncio.Task[None]] = {}
        self._current: dict[str, Work] = {}
        self._accepted = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._closed = False

    @property
    def accepted(self) -> int:
        """Work items accepted and not finished (queued or running)."""
        return self._accepted

    @property
    def running(self) -> int:
        """Work items being processed right now."""
        return len(self._running)

    def has_capacity(self) -> bool:
        """Whether more work may be taken without exceeding the in-flight bound."""
        return self._accepted < self._max

    def submit(self, work: Work) -> bool:
        """Queue one work item behind earlier ones of its key; False once closed."""
        if self._closed:
            return False
        self._accepted += 1
        self._idle.clear()
        queue = self._queues.get(work.key)
        if queue is None:
            self._queues[work.key] = deque([work])
            self._waiting_keys.append(work.key)
        else:
            queue.append(work)
        self._dispatch()
        return True

    def _dispatch(self) -> None:
        while self._waiting_keys and len(self._running) < self._max:
            key = self._waiting_keys.popleft()
            if key in self._queues and key not in self._running:
                self._running[key] = asyncio.create_task(self._run_key(key), name=f"key-{key}")

    async def _run_key(self, key: str) -> None:
        try:
            while True:
                queue = self._queues.get(key)
                if not queue:
                    self._queues.pop(key, None)
                    return
                work = queue.popleft()
                self._current[key] = work
                await self._handle(work)
                del self._current[key]
                self._finished(1)
                self._on_finished(work)
                if queue and self._waiting_keys:
                    # Give waiting keys a turn: a busy key must not starve the others.
                    self._waiting_keys.append(key)
                    return
        finally:
            abandoned = self._current.pop(key, None)
            if abandoned is not None:
                self._finished(1)  # abandoned (cancelled): not reported, so never committed
                self._on_abandoned(abandoned)
            self._running.pop(key, None)
            queue = self._queues.get(key)
            if queue:
                # Work left for this key and no worker (cancelled, or a handler failure): back
                # in line, or it would wait for ever.
                if key not in self._waiting_keys:
                    self._waiting_keys.append(key)
            elif queue is not None:
                del self._queues[key]
            self._dispatch()

    async def _handle(self, work: Work) -> None:
        failures = 0
        while True:
            try:
                await self._handler(work)
            except Exception as exc:
                failures += 1
                self._on_handler_failure()
                delay = min(HANDLER_RETRY_MAX_S, self._retry_initial_s * 2 ** min(failures - 1, 16))
                log.error(
                    "message handler failed; trying the message again",
                    error_type=type(exc).__name__,
                    where=error_location(exc),
                    topic=work.record.topic,
                    partition=work.record.partition,
                    offset=work.record.offset,
                    failures=failures,
                    retry_in_s=delay,
                )
                await asyncio.sleep(delay)
            else:
                return

    def _finished(self, count: int) -> None:
        self._accepted -= count
        if self._accepted == 0:
            self._idle.set()

    def drop(self, partitions: Collection[tuple[str, int]]) -> int:
        """Forget queued (not started) work of these partitions; it will be redelivered."""
        dropped = 0
        for key, queue in list(self._queues.items()):
            kept = deque(w for w in queue if (w.record.topic, w.record.partition) not in partitions)
            dropped += len(queue) - len(kept)
            if kept:
                self._queues[key] = kept
            elif key not in self._running:
                del self._queues[key]
            else:
                self._queues[key] = kept
        self._finished(dropped)
        return dropped

    def _tasks_of(self, partitions: Collection[tuple[str, int]] | None) -> list[asyncio.Task[None]]:
        return [
            self._running[key]
            for key, work in list(self._current.items())
            if key in self._running
            and (partitions is None or (work.record.topic, work.record.partition) in partitions)
        ]

    async def drain(
        self, partitions: Collection[tuple[str, int]] | None, *, timeout: float
    ) -> bool:
        """Wait (bounded) for running work of these partitions (None: all); True if it finished."""
        tasks = self._tasks_of(partitions)
        if not tasks:
            return True
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        return not pending

    async def cancel(self, partitions: Collection[tuple[str, int]] | None) -> int:
        """Abandon running work of these partitions (None: all): it is not marked finished."""
        if partitions is None:
            self.drop_all()
        else:
            self.drop(partitions)
        tasks = self._tasks_of(partitions)
        await stop_tasks(tasks, timeout_s=CANCEL_TIMEOUT_S, name="abandoned work")
        return len(tasks)

    def drop_all(self) -> int:
        """Forget every queued (not started) work item."""
        dropped = sum(len(q) for q in self._queues.values())
        for key in list(self._queues):
            if key in self._running:
                self._queues[key] = deque()
            else:
                del self._queues[key]
        self._waiting_keys.clear()
        self._finished(dropped)
        return dropped

    def close(self) -> None:
        """Refuse new work (shutdown): what is refused is not finished, so it is redelivered."""
        self._closed = True

    async def wait_idle(self) -> None:
        """Wait until nothing is queued or running."""
        await self._idle.wait()
