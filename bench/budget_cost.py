"""CPU cost of the Alice budget per request: `python -m bench.budget_cost` (not `make bench`).

Each scenario runs `tasks` coroutines that each make `calls // tasks` requests through the
gate (acquire, one event-loop turn standing for the HTTP exchange, release with a 200), and
reports the process CPU per request, minus the same loop with no gate at all. The old client's
`asyncio.Semaphore` is measured the same way, for comparison. Median of 5 runs.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable

from service.budget import AliceBudget

CALLS = 40_000
RUNS = 5


async def _run(tasks: int, one: Callable[[], Awaitable[None]]) -> float:
    async def worker() -> None:
        for _ in range(CALLS // tasks):
            await one()

    started = time.process_time()
    await asyncio.gather(*(worker() for _ in range(tasks)))
    return (time.process_time() - started) / CALLS


def _budget(rate: float, limit: int) -> Callable[[], Awaitable[None]]:
    budget = AliceBudget(max_requests_per_s=rate, min_concurrency=limit, max_concurrency=limit,
                         breaker_failures=20)  # fmt: skip

    async def one() -> None:
        permit = await budget.acquire()
        await asyncio.sleep(0)
        budget.release(permit, endpoint="report", key="u", status=200)

    return one


def _semaphore(limit: int) -> Callable[[], Awaitable[None]]:
    semaphore = asyncio.Semaphore(limit)

    async def one() -> None:
        async with semaphore:
            await asyncio.sleep(0)

    return one


async def _bare() -> None:
    await asyncio.sleep(0)


async def main() -> None:
    """Print µs of CPU per request for each scenario."""
    scenarios: list[tuple[str, int, Callable[[], Callable[[], Awaitable[None]]]]] = [
        ("no gate (baseline)", 64, lambda: _bare),
        ("asyncio.Semaphore(16), the old client", 64, lambda: _semaphore(16)),
        ("budget: no rate, 128 slots, 64 callers (fast path)", 64, lambda: _budget(0, 128)),
        ("budget: 1e6/s rate, 128 slots, 64 callers", 64, lambda: _budget(1e6, 128)),
        ("budget: no rate, 16 slots, 64 callers (queueing)", 64, lambda: _budget(0, 16)),
    ]
    baseline = 0.0
    for name, tasks, make in scenarios:
        costs = [await _run(tasks, make()) for _ in range(RUNS)]
        cost = statistics.median(costs)
        if name.startswith("no gate"):
            baseline = cost
            print(f"{name:55s} {cost * 1e6:6.2f} µs/request")
        else:
            print(f"{name:55s} {(cost - baseline) * 1e6:6.2f} µs/request over the baseline")


if __name__ == "__main__":
    asyncio.run(main())
