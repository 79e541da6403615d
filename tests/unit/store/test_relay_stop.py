"""The outbox relay stops when asked, even when a wake-up and the cancellation arrive together."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from service.metrics import Metrics
from service.store.relay import OutboxRelay


class _LockHeldElsewhere:
    """A database where another replica always holds the relay lock: rounds publish nothing."""

    async def scalar(self, *args: Any, **kwargs: Any) -> bool:
        return False

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[_LockHeldElsewhere]:
        yield self


class _Publisher:
    async def send(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("nothing to publish")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("turns", range(5))
async def test_stop_ends_the_loop_when_notified_as_it_is_cancelled(turns: int) -> None:
    """A commit's notify() just before stop() (as the consumer's drain does) cannot keep the
    relay loop alive: on Python 3.11 asyncio.wait_for swallowed that cancellation."""
    relay = OutboxRelay(
        database=_LockHeldElsewhere(),  # type: ignore[arg-type]
        publisher=_Publisher(),
        batch_size=10,
        poll_interval_s=3600.0,
        metrics=Metrics(CollectorRegistry()),
    )
    relay.start()
    await asyncio.sleep(0.01)  # the loop waits for a wake-up
    relay.notify()
    for _ in range(turns):  # let the wake-up travel part of the way (one of these races it)
        await asyncio.sleep(0)
    await relay.stop(flush_timeout_s=2.0)
    assert relay.stopped


def test_a_failing_topic_is_set_aside_briefly_first_then_longer() -> None:
    """A topic failing once waits 0.5 s (a broker back after an outage is used again at once);
    each failure in a row doubles the wait, up to TOPIC_BACKOFF_S."""
    relay = OutboxRelay(
        database=_LockHeldElsewhere(),  # type: ignore[arg-type]
        publisher=_Publisher(),
        batch_size=10,
        poll_interval_s=3600.0,
        metrics=Metrics(CollectorRegistry()),
    )
    waits = []
    for _ in range(9):
        relay._topic_backoff.clear()  # as if the wait had passed
        before = time.monotonic()
        relay._set_aside("out", TimeoutError())
        waits.append(round(relay._topic_backoff["out"] - before, 1))
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
