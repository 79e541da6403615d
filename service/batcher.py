"""Group commit: messages ready to record are written several per database transaction.

Workers hand over one fetched report each and await its outcome; a writer takes everything
waiting (up to the batch size) into one transaction. Nothing waits for a batch to fill: while
one transaction runs, the next batch gathers, so batches grow with load and stay at one message
when the service is idle.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from service.errors import IngestorError
from service.ingest import Fetched, Ingest, Recorded
from service.metrics import Metrics
from service.shutdown import stop_tasks

_Pending = tuple[Fetched, "asyncio.Future[Recorded | IngestorError]"]


class WriteBatcher:
    """Collects fetched reports and records them in batches through the use case."""

    def __init__(
        self,
        *,
        ingest: Ingest,
        batch_size: int,
        writers: int,
        metrics: Metrics,
        on_committed: Callable[[], None],
    ) -> None:
        self._on_committed = on_committed
        self._ingest = ingest
        self._batch_size = batch_size
        self._metrics = metrics
        self._queue: asyncio.Queue[_Pending] = asyncio.Queue()
        self._writers = writers
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        """Start the writer tasks."""
        self._tasks = [
            asyncio.create_task(self._write_loop(), name=f"db-writer-{i}")
            for i in range(self._writers)
        ]

    async def record(self, item: Fetched) -> Recorded | IngestorError:
        """Record one message with whatever else is waiting; its own outcome comes back."""
        future: asyncio.Future[Recorded | IngestorError] = (
            asyncio.get_running_loop().create_future()
        )
        self._queue.put_nowait((item, future))
        return await future

    async def _write_loop(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._batch_size and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            batch = [(item, future) for item, future in batch if not future.done()]
            if not batch:
                continue
            started = time.perf_counter()
            try:
                outcomes = await self._ingest.record([item for item, _ in batch])
            except Exception as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            self._metrics.db_transaction.observe(time.perf_counter() - started)
            self._metrics.db_batch_size.observe(len(batch))
            self._on_committed()
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if not future.done():
                    future.set_result(outcome)

    async def aclose(self, timeout_s: float = 2.0) -> None:
        """Stop the writers (after the workers are done with them), waiting at most
        `timeout_s` for a transaction in progress."""
        await stop_tasks(self._tasks, timeout_s=timeout_s, name="db writers")
