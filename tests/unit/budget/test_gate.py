"""`AliceBudget`: priority order, holds, the breaker and the adaptive limit through the gate."""

from __future__ import annotations

import asyncio

import pytest

from service.budget import AliceBudget, BreakerState, Held, Priority


class Recorder:
    """A hand-written BudgetObserver that keeps what it was told."""

    def __init__(self) -> None:
        self.waits: list[str] = []
        self.limits: list[int] = []
        self.states: list[BreakerState] = []

    def limiter_waited(self, priority: str, seconds: float) -> None:
        self.waits.append(priority)

    def concurrency_limit(self, limit: int) -> None:
        self.limits.append(limit)

    def breaker_state(self, state: BreakerState) -> None:
        self.states.append(state)


def _budget(**overrides: object) -> AliceBudget:
    options: dict[str, object] = {
        "max_requests_per_s": 0,
        "min_concurrency": 1,
        "max_concurrency": 1,
    }
    options.update(overrides)
    return AliceBudget(**options)  # type: ignore[arg-type]


async def _settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_background_callers_get_only_what_the_pipeline_leaves() -> None:
    """With one slot taken, a background waiter that came first is served after a pipeline
    waiter that came later; it gets the slot once no pipeline caller waits."""
    budget = _budget()
    held = await budget.acquire(Priority.PIPELINE)
    background = asyncio.create_task(budget.acquire(Priority.BACKGROUND))
    await _settle()
    pipeline = asyncio.create_task(budget.acquire(Priority.PIPELINE))
    await _settle()
    assert not background.done()
    assert not pipeline.done()

    budget.release(held, endpoint="report", status=200)
    await _settle()
    assert pipeline.done()
    assert not background.done()

    budget.release(pipeline.result(), endpoint="report", status=200)
    permit = await asyncio.wait_for(background, timeout=5)
    assert permit.priority is Priority.BACKGROUND
    budget.release(permit, endpoint="state", status=200)
    assert budget.in_flight == 0


async def test_a_waiter_that_gives_up_takes_no_slot() -> None:
    """A waiter cancelled in the queue, or timed out, leaves the slot to the next one."""
    budget = _budget()
    held = await budget.acquire()
    cancelled = asyncio.create_task(budget.acquire())
    await _settle()
    cancelled.cancel()
    with pytest.raises(Held):
        await budget.acquire(timeout=0)
    budget.release(held, endpoint="report", status=200)
    await _settle()
    assert budget.in_flight == 0
    permit = await asyncio.wait_for(budget.acquire(), timeout=5)
    assert budget.in_flight == 1
    budget.abandon(permit)
    assert budget.in_flight == 0


async def test_a_429_holds_every_caller_for_its_retry_after() -> None:
    """After a 429 with Retry-After 30, no caller is granted; `Held` carries the wait and is
    not an outage; the limit halves."""
    observer = Recorder()
    budget = _budget(max_concurrency=8, min_concurrency=2, observer=observer)
    permit = await budget.acquire()
    budget.release(permit, endpoint="report", status=429, retry_after=30.0)
    with pytest.raises(Held) as held:
        await budget.acquire(timeout=0)
    assert held.value.retry_after == pytest.approx(30.0, abs=1.0)
    assert not held.value.outage
    assert budget.concurrency_limit == 4
    assert observer.limits == [8, 4]
    assert observer.waits == ["pipeline"]


async def test_aimd_halves_once_for_failures_of_one_round() -> None:
    """Eight requests in flight failing with 503 halve the limit once, not eight times."""
    budget = _budget(max_concurrency=8, min_concurrency=1)
    permits = [await budget.acquire() for _ in range(8)]
    for index, permit in enumerate(permits):
        budget.release(permit, endpoint="report", key=f"u{index % 2}", status=503)
    assert budget.concurrency_limit == 4


async def test_open_breaker_holds_work_and_lets_one_probe_through() -> None:
    """Failures across users open the breaker: callers are held (an outage) until the probe
    time, then exactly one goes; its success closes the breaker and the others follow."""
    observer = Recorder()
    budget = _budget(
        max_concurrency=4,
        min_concurrency=4,
        breaker_failures=3,
        breaker_probe_interval_s=0.2,
        observer=observer,
    )
    for key in ("a", "b", "c"):
        permit = await budget.acquire()
        budget.release(permit, endpoint="report", key=key, status=None)
    assert budget.breaker_state is BreakerState.OPEN
    with pytest.raises(Held) as held:
        await budget.acquire(timeout=0)
    assert held.value.outage

    waiters = [asyncio.create_task(budget.acquire()) for _ in range(3)]
    probe = await asyncio.wait_for(asyncio.shield(waiters[0]), timeout=5)
    await _settle()
    assert probe.probe
    assert [w.done() for w in waiters] == [True, False, False]
    budget.release(probe, endpoint="report", key="d", status=200)
    rest = await asyncio.wait_for(asyncio.gather(*waiters[1:]), timeout=5)
    assert not any(permit.probe for permit in rest)
    assert observer.states == [
        BreakerState.CLOSED,
        BreakerState.OPEN,
        BreakerState.HALF_OPEN,
        BreakerState.CLOSED,
    ]


async def test_rate_cap_makes_callers_wait() -> None:
    """With 20 requests a second and a burst of one, the second caller in a row waits."""
    observer = Recorder()
    budget = _budget(max_requests_per_s=20, max_concurrency=4, observer=observer)
    first = await budget.acquire()
    assert observer.waits == []
    second = await asyncio.wait_for(budget.acquire(), timeout=5)
    assert observer.waits == ["pipeline"]
    for permit in (first, second):
        budget.release(permit, endpoint="report", status=200)


async def test_failed_probes_do_not_shrink_the_limit() -> None:
    """During an outage the limit is halved by the failures that opened the breaker, neither
    halved again nor grown by each failed probe: when Alice is back, the pipeline resumes at
    that limit."""
    budget = _budget(
        max_concurrency=16, min_concurrency=1, breaker_failures=3, breaker_probe_interval_s=0.05
    )
    permits = [await budget.acquire() for _ in range(3)]
    for key, permit in zip(("a", "b", "c"), permits, strict=True):
        budget.release(permit, endpoint="report", key=key, status=503)
    assert budget.breaker_state is BreakerState.OPEN
    assert budget.concurrency_limit == 8
    for _ in range(20):  # more than the 8 successes that would grow an 8-slot limit by one
        probe = await asyncio.wait_for(budget.acquire(), timeout=5)
        assert probe.probe
        budget.release(probe, endpoint="report", key="d", status=503)
        assert budget.concurrency_limit == 8
    probe = await asyncio.wait_for(budget.acquire(), timeout=5)
    budget.release(probe, endpoint="report", key="d", status=200)
    assert budget.breaker_state is BreakerState.CLOSED
    assert budget.concurrency_limit == 8
