"""The token cache: expiry from `exp`, the refresh margin, LRU bounds and single flight."""

from __future__ import annotations

import asyncio

import jwt
import pytest

from service.alice.tokens import (
    DEFAULT_FALLBACK_TTL_S,
    AccessToken,
    TokenCache,
    refresh_time,
    token_exp,
)

SIGNING_KEY = "a-test-signing-key-of-32-bytes-at-least!"


def make_jwt(exp: object | None, **claims: object) -> str:
    """A signed JWT whose payload holds `exp` (when not None) and `claims`."""
    payload = dict(claims)
    if exp is not None:
        payload["exp"] = exp
    return jwt.encode(payload, SIGNING_KEY, algorithm="HS256")


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Fetcher:
    """A token endpoint double: counts calls, optionally waits on an event first."""

    def __init__(self, clock: FakeClock, ttl_s: float = 3600.0) -> None:
        self.clock = clock
        self.ttl_s = ttl_s
        self.calls = 0
        self.gate: asyncio.Event | None = None
        self.fail_with: Exception | None = None

    async def __call__(self) -> str:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail_with is not None:
            raise self.fail_with
        return make_jwt(int(self.clock.now + self.ttl_s), n=self.calls)


def test_token_exp_reads_the_unverified_claim() -> None:
    """`exp` is read from a JWT signed with a key the client does not know."""
    assert token_exp(make_jwt(1_234_567)) == 1_234_567.0


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        "",
        make_jwt(None, sub="x"),
        make_jwt("tomorrow"),
        make_jwt(True),
        make_jwt([1, 2]),
    ],
)
def test_token_exp_is_none_when_unreadable(token: str) -> None:
    """A token that is not a JWT, or whose `exp` is absent or not a number, has no expiry."""
    assert token_exp(token) is None


def test_refresh_time_subtracts_the_margin() -> None:
    """A one-hour token is refreshed `margin` seconds before its `exp`."""
    assert refresh_time(make_jwt(4600), now=1000, margin_s=120, fallback_ttl_s=60) == 4480


def test_refresh_time_halves_the_margin_for_short_tokens() -> None:
    """A token living less than twice the margin is used for half its lifetime."""
    assert refresh_time(make_jwt(1010), now=1000, margin_s=120, fallback_ttl_s=60) == 1005


def test_refresh_time_of_an_expired_token_is_its_exp() -> None:
    """A token already past `exp` (skewed clock) is stale at once, never extended."""
    assert refresh_time(make_jwt(900), now=1000, margin_s=120, fallback_ttl_s=60) == 900


def test_refresh_time_falls_back_without_exp() -> None:
    """A token without a readable `exp` is treated as living `fallback_ttl_s`."""
    assert refresh_time("opaque", now=1000, margin_s=120, fallback_ttl_s=60) == 1060


def test_access_token_repr_hides_the_value() -> None:
    """The token value never appears in the repr of an `AccessToken`."""
    assert "s3cr3t" not in repr(AccessToken(value="s3cr3t", refresh_at=1.0))


async def test_cached_until_the_margin_then_refreshed() -> None:
    """A token is reused until `exp - margin`, and fetched again from that instant on."""
    clock = FakeClock()
    fetch = Fetcher(clock, ttl_s=3600)
    cache = TokenCache(max_entries=10, refresh_margin_s=120, clock=clock)
    first = await cache.get("u", fetch)
    clock.now += 3600 - 120 - 1
    assert await cache.get("u", fetch) is first
    clock.now += 1
    second = await cache.get("u", fetch)
    assert second is not first
    assert fetch.calls == 2


async def test_token_without_exp_lives_the_fallback_ttl() -> None:
    """An opaque token is reused for the fallback lifetime (60 s), then fetched again."""
    clock = FakeClock()
    calls = 0

    async def opaque() -> str:
        nonlocal calls
        calls += 1
        return f"opaque-{calls}"

    cache = TokenCache(max_entries=10, refresh_margin_s=120, clock=clock)
    assert (await cache.get("u", opaque)).value == "opaque-1"
    clock.now += DEFAULT_FALLBACK_TTL_S - 1
    assert (await cache.get("u", opaque)).value == "opaque-1"
    clock.now += 1
    assert (await cache.get("u", opaque)).value == "opaque-2"


async def test_a_stale_fresh_token_is_still_returned_once() -> None:
    """A token stale on arrival (clock skew) is used for the call, then fetched again."""
    clock = FakeClock()
    fetch = Fetcher(clock, ttl_s=-10)
    cache = TokenCache(max_entries=10, refresh_margin_s=0, clock=clock)
    await cache.get("u", fetch)
    await cache.get("u", fetch)
    assert fetch.calls == 2


async def test_lru_evicts_the_least_recently_used() -> None:
    """With room for two tokens, the one not used for longest goes first."""
    clock = FakeClock()
    fetch = Fetcher(clock)
    cache = TokenCache(max_entries=2, refresh_margin_s=0, clock=clock)
    await cache.get("a", fetch)
    await cache.get("b", fetch)
    await cache.get("a", fetch)  # a is now the most recent
    await cache.get("c", fetch)  # evicts b
    assert len(cache) == 2
    assert cache.peek("a") is not None
    assert cache.peek("b") is None
    assert cache.peek("c") is not None


async def test_concurrent_callers_share_one_fetch() -> None:
    """Fifty concurrent requests for one key make one fetch and all get the same token."""
    clock = FakeClock()
    fetch = Fetcher(clock)
    fetch.gate = asyncio.Event()
    cache = TokenCache(max_entries=10, refresh_margin_s=0, clock=clock)
    waiters = [asyncio.create_task(cache.get("u", fetch)) for _ in range(50)]
    await asyncio.sleep(0.01)
    fetch.gate.set()
    tokens = await asyncio.gather(*waiters)
    assert fetch.calls == 1
    assert len({id(t) for t in tokens}) == 1


async def test_different_keys_fetch_in_parallel() -> None:
    """A slow fetch for one key does not hold back the fetch for another key."""
    clock = FakeClock()
    slow = Fetcher(clock)
    slow.gate = asyncio.Event()
    fast = Fetcher(clock)
    cache = TokenCache(max_entries=10, refresh_margin_s=0, clock=clock)
    blocked = asyncio.create_task(cache.get("slow", slow))
    await asyncio.wait_for(cache.get("fast", fast), timeout=1)
    assert not blocked.done()
    slow.gate.set()
    await blocked


async def test_a_failed_fetch_reaches_every_waiter_and_is_not_cached() -> None:
    """A failing fetch raises in every concurrent caller once; the next call fetches again."""
    clock = FakeClock()
    fetch = Fetcher(clock)
    fetch.gate = asyncio.Event()
    fetch.fail_with = RuntimeError("token endpoint down")
    cache = TokenCache(max_entries=10, refresh_margin_s=0, clock=clock)
    waiters = [asyncio.create_task(cache.get("u", fetch)) for _ in range(5)]
    await asyncio.sleep(0.01)
    fetch.gate.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert fetch.calls == 1
    fetch.fail_with = None
    await cache.get("u", fetch)
    assert fetch.calls == 2


async def test_a_cancelled_caller_does_not_cancel_the_shared_fetch() -> None:
    """When one waiter is cancelled, the others still receive the token from the same fetch."""
    clock = FakeClock()
    fetch = Fetcher(clock)
    fetch.gate = asyncio.Event()
    cache = TokenCache(max_entries=10, refresh_margin_s=0, clock=clock)
    first = asyncio.create_task(cache.get("u", fetch))
    second = asyncio.create_task(cache.get("u", fetch))
    await asyncio.sleep(0.01)
    first.cancel()
    fetch.gate.set()
    token = await second
    assert first.cancelled()
    assert fetch.calls == 1
    assert cache.peek("u") is token


async def test_invalidate_drops_only_the_token_it_names() -> None:
    """Invalidating a superseded token leaves the newer cached token in place."""
    clock = FakeClock()
    fetch = Fetcher(clock)
    cache = TokenCache(max_entries=10, refresh_margin_s=0, clock=clock)
    old = await cache.get("u", fetch)
    assert cache.invalidate("u", old) is True
    new = await cache.get("u", fetch)
    assert cache.invalidate("u", old) is False
    assert cache.peek("u") is new


async def test_aclose_cancels_fetches_in_flight() -> None:
    """Closing the cache cancels a pending fetch and empties it."""
    clock = FakeClock()
    fetch = Fetcher(clock)
    fetch.gate = asyncio.Event()
    cache = TokenCache(max_entries=10, refresh_margin_s=0, clock=clock)
    waiter = asyncio.create_task(cache.get("u", fetch))
    await asyncio.sleep(0.01)
    await cache.aclose()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert len(cache) == 0
