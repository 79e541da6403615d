"""The client's budget over real HTTP: throttling and outages raise errors that say so, and
the rate cap holds at the server."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from emulator import AliceEmulator
from service.budget import AliceBudget, BreakerState
from service.errors import AliceThrottled, AliceUnavailable
from tests.integration.alice.conftest import ClientFactory


async def test_retry_after_beyond_the_budget_is_carried_not_dropped(
    emulator: AliceEmulator, make_client: ClientFactory, new_user: Callable[[], str]
) -> None:
    """A 429 whose Retry-After (60 s) exceeds the retry budget (10 s) ends the call at once
    with `AliceThrottled` carrying the 60 s, for the processor to wait out."""
    user = new_user()
    client = make_client()
    await client.fetch_report(user)
    emulator.fail_next(1, 429, retry_after_s=60)
    with pytest.raises(AliceThrottled) as caught:
        await client.fetch_report(user)
    assert caught.value.status == 429
    assert caught.value.retry_after == 60
    assert emulator.counts().status("user_report", 429) == 1


def _breaker_budget(probe_interval_s: float) -> AliceBudget:
    return AliceBudget(
        max_requests_per_s=0,
        min_concurrency=4,
        max_concurrency=16,
        breaker_failures=3,
        breaker_window_s=30.0,
        breaker_probe_interval_s=probe_interval_s,
    )


async def test_an_outage_opens_the_breaker_and_holds_the_next_calls(
    emulator: AliceEmulator, make_client: ClientFactory, new_user: Callable[[], str]
) -> None:
    """Reports of three users failing with 503 open the breaker; their errors say `outage`;
    a fourth user's call is held without reaching Alice and raises `AliceThrottled`."""
    users = [new_user() for _ in range(4)]
    client = make_client(retry_attempts=1, retry_timeout_s=0.5, budget=_breaker_budget(60.0))
    emulator.set_faults(error_rate=1.0, error_status=503, endpoints=("user_report",))
    errors = []
    for user in users[:3]:
        with pytest.raises(AliceUnavailable) as caught:
            await client.fetch_report(user)
        errors.append(caught.value)
    assert client.budget.breaker_state is BreakerState.OPEN
    assert errors[-1].outage
    reports_before = emulator.counts()["user_report"]
    with pytest.raises(AliceThrottled) as held:
        await client.fetch_report(users[3])
    assert held.value.outage
    assert emulator.counts()["user_report"] == reports_before


async def test_a_probe_closes_the_breaker_when_alice_is_back(
    emulator: AliceEmulator, make_client: ClientFactory, new_user: Callable[[], str]
) -> None:
    """After an outage opened the breaker, the first call after Alice recovered is the probe:
    it succeeds, the breaker closes, and calls flow again."""
    users = [new_user() for _ in range(3)]
    client = make_client(retry_attempts=1, retry_timeout_s=5.0, budget=_breaker_budget(0.2))
    emulator.set_faults(error_rate=1.0, error_status=503, endpoints=("user_report",))
    for user in users:
        with pytest.raises(AliceUnavailable):
            await client.fetch_report(user)
    assert client.budget.breaker_state is BreakerState.OPEN
    emulator.clear_faults()
    bodies = await asyncio.gather(*(client.fetch_report(user) for user in users))
    assert bodies == [emulator.report_bytes(user) for user in users]
    assert client.budget.breaker_state is BreakerState.CLOSED


async def test_rate_cap_holds_at_the_server(
    emulator: AliceEmulator, make_client: ClientFactory, new_user: Callable[[], str]
) -> None:
    """With ALICE_MAX_REQUESTS_PER_S = 20 against an emulator that answers 429 above 20
    requests a second, 30 users fetched at once (61 requests) all arrive, no 1 s window at the
    emulator holds more than 20 requests plus the bucket's burst of one, and a 429 is only
    ever the one request of such a window beyond 20."""
    users = [new_user() for _ in range(30)]
    emulator.reset_counts()
    emulator.set_rate_limit(20)
    budget = AliceBudget(max_requests_per_s=20, min_concurrency=4, max_concurrency=16)
    client = make_client(budget=budget)
    bodies = await asyncio.gather(*(client.fetch_report(user) for user in users))
    assert bodies == [emulator.report_bytes(user) for user in users]
    windows = emulator.throttle.timeline()
    throttled = sum(w["throttled"] for w in windows)
    assert sum(w["received"] for w in windows) == 61 + throttled
    assert max(w["received"] for w in windows) <= 21
    assert throttled <= sum(1 for w in windows if w["received"] == 21)
