"""The byte budget for report bodies: memory bounded by bytes, not only by message count."""

from __future__ import annotations

import asyncio
from typing import cast

from prometheus_client import CollectorRegistry

from emulator import AliceEmulator
from service.alice import ReportSource
from service.batcher import WriteBatcher
from service.errors import IngestorError
from service.ingest import STORED, Fetched, Ingest, Recorded
from service.memory import BODY_MEMORY_FACTOR, ByteBudget
from service.messages import InputEvent
from service.metrics import Metrics
from service.processor import Intake, Processor, RetryPolicy
from service.recovery import Health
from service.scheduler import InboundRecord, Work

CAP = 100_000  # above the emulator's 20-40 KB reports


async def test_reservations_beyond_the_limit_wait_in_arrival_order() -> None:
    """Holders never exceed the limit together; waiters are granted first come, first served."""
    budget = ByteBudget(100)
    first = await budget.hold(60)
    order: list[str] = []

    async def take(name: str, size: int) -> None:
        held = await budget.hold(size)
        order.append(name)
        held.close()

    waiting = [asyncio.create_task(take("a", 50)), asyncio.create_task(take("b", 10))]
    await asyncio.sleep(0.01)
    assert order == []  # b would fit, but a came first
    assert budget.used == 60
    first.close()
    await asyncio.gather(*waiting)
    assert order == ["a", "b"]
    assert budget.used == 0


async def test_a_reservation_larger_than_the_limit_runs_alone() -> None:
    """An oversize body is not refused for ever: it proceeds when nothing else is held."""
    budget = ByteBudget(100)
    held = await budget.hold(500)
    assert budget.used == 500
    held.close()
    assert budget.used == 0


async def test_a_cancelled_waiter_leaves_nothing_held() -> None:
    """A waiter cancelled (revocation) neither keeps bytes nor blocks the ones behind it."""
    budget = ByteBudget(100)
    first = await budget.hold(100)
    cancelled = asyncio.create_task(budget.hold(80))
    behind = asyncio.create_task(budget.hold(10))
    await asyncio.sleep(0.01)
    cancelled.cancel()
    await asyncio.sleep(0.01)
    first.close()
    (await behind).close()
    assert budget.used == 0


class SlowSource:
    """Alice (the emulator's reports, no HTTP), answering slowly, counting the fetches under
    way at once."""

    def __init__(self) -> None:
        self.emulator = AliceEmulator(api_key="k", seed=3)
        self.running = 0
        self.most = 0

    async def fetch_report(self, user_id: str) -> bytes:
        self.running += 1
        self.most = max(self.most, self.running)
        await asyncio.sleep(0.02)
        self.running -= 1
        return self.emulator.report_bytes(user_id)

    async def healthcheck(self) -> bool:
        return True


class InstantBatcher:
    """Records every message at once, counting them."""

    def __init__(self) -> None:
        self.recorded = 0

    async def record(self, item: Fetched) -> Recorded | IngestorError:
        self.recorded += 1
        return Recorded(STORED)


async def _run(source: SlowSource, budget: ByteBudget, messages: int) -> int:
    batcher = InstantBatcher()
    processor = Processor(
        source=cast("ReportSource", source),
        ingest=cast("Ingest", None),
        batcher=cast("WriteBatcher", batcher),
        retry=RetryPolicy(max_attempts=3, initial_s=0.01, max_s=0.02),
        metrics=Metrics(CollectorRegistry()),
        health=Health(),
        on_attempt=lambda: None,
        on_committed=lambda: None,
        memory=budget,
        body_reservation=CAP * BODY_MEMORY_FACTOR,
    )
    works = []
    for i in range(messages):
        user = f"0f8fad5b-d9cb-469f-a165-7086772895{i:02d}"
        source.emulator.create_user(user, state="TO_REVIEW")
        record = InboundRecord("in", 0, i, None, b"{}", ())
        event = InputEvent(user_id=user, message_id=f"event:{i}")
        works.append(Work(record, user, Intake(event, None)))
    await asyncio.gather(*(processor(w) for w in works))
    return batcher.recorded


async def test_fetches_at_once_are_bounded_by_the_worst_case_body() -> None:
    """With room for three worst-case bodies, at most three fetches run at once, whatever
    MAX_IN_FLIGHT allows; everything is given back at the end."""
    source = SlowSource()
    budget = ByteBudget(3 * CAP * BODY_MEMORY_FACTOR)
    processed = await _run(source, budget, messages=20)
    assert source.most == 3
    assert processed == 20
    assert budget.used == 0
