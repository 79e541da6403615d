"""Shutdown steps are bounded whatever the awaited work does."""

from __future__ import annotations

import asyncio

import pytest

from service.shutdown import ShutdownClock, bounded, stop_tasks


async def _deaf(released: asyncio.Event) -> None:
    """A task that swallows every cancellation (as a buggy dependency can) until released."""
    while not released.is_set():
        try:
            await released.wait()
        except asyncio.CancelledError:
            continue


@pytest.mark.timeout(30)
async def test_stop_tasks_leaves_behind_a_task_that_ignores_cancellation() -> None:
    """stop_tasks returns False (instead of waiting forever) for a task deaf to cancel()."""
    released = asyncio.Event()
    deaf = asyncio.create_task(_deaf(released))
    plain = asyncio.create_task(asyncio.sleep(3600))
    await asyncio.sleep(0)
    assert await stop_tasks([deaf, plain], timeout_s=0.1, name="test") is False
    assert plain.cancelled()
    assert not deaf.done()
    released.set()
    await deaf


@pytest.mark.timeout(30)
async def test_stop_tasks_reports_tasks_that_ended() -> None:
    """stop_tasks returns True when every task ended on its cancellation."""
    tasks = [asyncio.create_task(asyncio.sleep(3600)) for _ in range(3)]
    await asyncio.sleep(0)
    assert await stop_tasks(tasks, timeout_s=5.0, name="test") is True
    assert all(task.cancelled() for task in tasks)


@pytest.mark.timeout(30)
async def test_bounded_gives_up_on_a_hung_step_and_swallows_its_failure() -> None:
    """A step that never ends, or raises, does not stop the steps behind it."""
    ran: list[str] = []

    async def fails() -> None:
        raise RuntimeError("broken dependency")

    await bounded(asyncio.Event().wait(), timeout_s=0.05, name="hung")
    await bounded(fails(), timeout_s=5.0, name="fails")
    ran.append("next step")
    assert ran == ["next step"]


def test_clock_shares_what_is_left_of_the_budget() -> None:
    """Before the start a step gets what it wants, never more than the budget, never nothing."""
    clock = ShutdownClock(10.0)
    assert clock.share(4.0) == 4.0
    assert clock.share(50.0) == 10.0
    assert ShutdownClock(0.1).share(5.0) == 0.5  # the floor for a spent budget
