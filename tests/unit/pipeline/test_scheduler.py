"""Key-ordered concurrency: one message per key at a time, in order, bounded overall."""

from __future__ import annotations

import asyncio
import random

from service.scheduler import InboundRecord, KeyedScheduler, Work


def _work(key: str, offset: int, partition: int = 0) -> Work:
    return Work(InboundRecord("t", partition, offset, key.encode(), b"{}", ()), key)


class Recorder:
    """A handler that records concurrency and order, taking a little time per message."""

    def __init__(self, delay: float = 0.001) -> None:
        self.delay = delay
        self.running_keys: set[str] = set()
        self.max_running = 0
        self.order: dict[str, list[int]] = {}
        self.overlap = False

    async def __call__(self, work: Work) -> None:
        if work.key in self.running_keys:
            self.overlap = True
        self.running_keys.add(work.key)
        self.max_running = max(self.max_running, len(self.running_keys))
        await asyncio.sleep(self.delay * random.random())
        self.order.setdefault(work.key, []).append(work.record.offset)
        self.running_keys.discard(work.key)


async def test_messages_of_one_key_run_in_order_and_never_concurrently() -> None:
    """Across 20 keys, each key's messages run one at a time in offset order."""
    recorder = Recorder()
    finished: list[Work] = []
    scheduler = KeyedScheduler(handler=recorder, max_in_flight=8, on_finished=finished.append)
    offset = 0
    for _ in range(5):
        for k in range(20):
            scheduler.submit(_work(f"user-{k}", offset))
            offset += 1
    await asyncio.wait_for(scheduler.wait_idle(), 10)
    assert not recorder.overlap
    assert len(finished) == 100
    for offsets in recorder.order.values():
        assert offsets == sorted(offsets)
        assert len(offsets) == 5


async def test_concurrency_is_bounded_and_used() -> None:
    """No more than max_in_flight handlers run at once, and distinct keys do run concurrently."""
    recorder = Recorder(delay=0.01)
    scheduler = KeyedScheduler(handler=recorder, max_in_flight=4, on_finished=lambda w: None)
    for i in range(40):
        scheduler.submit(_work(f"user-{i}", i))
    await asyncio.wait_for(scheduler.wait_idle(), 10)
    assert recorder.max_running == 4


async def test_dropped_work_is_not_reported_finished() -> None:
    """Queued work of revoked partitions is forgotten and never reported as finished."""
    gate = asyncio.Event()

    async def blocked(work: Work) -> None:
        await gate.wait()

    finished: list[Work] = []
    scheduler = KeyedScheduler(handler=blocked, max_in_flight=1, on_finished=finished.append)
    scheduler.submit(_work("a", 0, partition=0))
    scheduler.submit(_work("b", 1, partition=1))
    scheduler.submit(_work("c", 2, partition=0))
    await asyncio.sleep(0)
    assert scheduler.drop({("t", 1)}) == 1
    gate.set()
    await asyncio.wait_for(scheduler.wait_idle(), 5)
    assert sorted(w.record.offset for w in finished) == [0, 2]
    assert scheduler.accepted == 0


async def test_cancelled_work_is_abandoned_not_finished() -> None:
    """Work cancelled on revocation or shutdown is not reported finished (so never committed)."""

    async def forever(work: Work) -> None:
        await asyncio.sleep(3600)

    finished: list[Work] = []
    scheduler = KeyedScheduler(handler=forever, max_in_flight=2, on_finished=finished.append)
    scheduler.submit(_work("a", 0))
    scheduler.submit(_work("b", 1))
    await asyncio.sleep(0)
    assert not await scheduler.drain(None, timeout=0.05)
    assert await scheduler.cancel(None) == 2
    assert finished == []
    assert scheduler.accepted == 0


async def test_closed_scheduler_refuses_work() -> None:
    """After close (shutdown) new work is refused, so its offset is never committed."""
    scheduler = KeyedScheduler(handler=Recorder(), max_in_flight=2, on_finished=lambda w: None)
    scheduler.close()
    assert scheduler.submit(_work("a", 0)) is False
    assert scheduler.accepted == 0


async def test_a_key_whose_worker_was_cancelled_still_runs_later_work() -> None:
    """After its running message is abandoned (revocation), a key's later work is processed."""
    gate = asyncio.Event()
    seen: list[int] = []

    async def handler(work: Work) -> None:
        if work.record.offset == 0:
            await gate.wait()  # blocks until cancelled
        seen.append(work.record.offset)

    scheduler = KeyedScheduler(handler=handler, max_in_flight=4, on_finished=lambda w: None)
    scheduler.submit(_work("a", 0, partition=0))
    scheduler.submit(_work("a", 1, partition=0))
    await asyncio.sleep(0)
    await scheduler.cancel({("t", 0)})
    scheduler.submit(_work("a", 2, partition=0))  # redelivered after the partition came back
    await asyncio.wait_for(scheduler.wait_idle(), 5)
    assert seen == [2]
    assert scheduler.accepted == 0


async def test_a_failing_handler_is_tried_again_and_never_lets_its_message_pass() -> None:
    """A handler that raises (a bug) is tried again after a pause: the message is finished only
    once it succeeds, and the key's later work runs after it, in order."""
    finished: list[int] = []
    calls: list[int] = []
    failures: list[int] = []

    async def handler(work: Work) -> None:
        calls.append(work.record.offset)
        if work.record.offset == 0 and calls.count(0) < 3:
            raise RuntimeError("bug")

    scheduler = KeyedScheduler(
        handler=handler,
        max_in_flight=2,
        on_finished=lambda w: finished.append(w.record.offset),
        on_handler_failure=lambda: failures.append(1),
        retry_initial_s=0.01,
    )
    scheduler.submit(_work("a", 0))
    scheduler.submit(_work("a", 1))
    await asyncio.wait_for(scheduler.wait_idle(), 5)
    assert calls == [0, 0, 0, 1]
    assert finished == [0, 1]
    assert len(failures) == 2
    assert scheduler.accepted == 0


async def test_cancelled_work_is_reported_abandoned_not_finished() -> None:
    """Work cancelled on revocation is reported to on_abandoned (its place is free again),
    never to on_finished (it must not be committed)."""
    finished: list[int] = []
    abandoned: list[int] = []
    started = asyncio.Event()

    async def handler(work: Work) -> None:
        started.set()
        await asyncio.sleep(60)

    scheduler = KeyedScheduler(
        handler=handler,
        max_in_flight=2,
        on_finished=lambda w: finished.append(w.record.offset),
        on_abandoned=lambda w: abandoned.append(w.record.offset),
    )
    scheduler.submit(_work("a", 4, partition=0))
    await asyncio.wait_for(started.wait(), 5)
    assert await scheduler.cancel({("t", 0)}) == 1
    assert abandoned == [4]
    assert finished == []
    assert scheduler.accepted == 0
