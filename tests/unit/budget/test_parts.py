"""The budget's pure parts: the token bucket, the AIMD limit and the circuit breaker."""

from __future__ import annotations

import pytest

from service.budget import AdaptiveLimit, BreakerState, CircuitBreaker, TokenBucket


def test_bucket_paces_at_the_rate_after_its_burst() -> None:
    """10 tokens a second with a burst of 2: two grants at once, then one every 0.1 s."""
    bucket = TokenBucket(rate=10, now=0.0, burst=2)
    for _ in range(2):
        assert bucket.wait(0.0) == 0.0
        bucket.take(0.0)
    assert bucket.wait(0.0) == pytest.approx(0.1)
    assert bucket.wait(0.05) == pytest.approx(0.05)
    assert bucket.wait(0.1) == 0.0


def test_bucket_default_burst_is_a_twentieth_of_a_second() -> None:
    """Without an explicit burst, 200/s stores 10 tokens and 5/s stores 1; rate 0 never waits."""
    assert TokenBucket(rate=200, now=0.0).burst == 10
    assert TokenBucket(rate=5, now=0.0).burst == 1
    unlimited = TokenBucket(rate=0, now=0.0)
    for _ in range(1000):
        unlimited.take(0.0)
    assert unlimited.wait(0.0) == 0.0


def test_aimd_halves_once_per_round_and_grows_back_slowly() -> None:
    """Failures of requests granted in the same epoch halve the limit once; the floor holds;
    growing from 8 to 9 takes 8 successes."""
    limit = AdaptiveLimit(floor=4, ceiling=32)
    epoch = limit.epoch
    assert limit.overloaded(epoch)
    assert not limit.overloaded(epoch)  # the same overload seen by another request
    assert limit.slots == 16
    limit.overloaded(limit.epoch)
    limit.overloaded(limit.epoch)
    limit.overloaded(limit.epoch)
    assert limit.slots == 4
    limit.overloaded(limit.epoch)
    assert limit.slots == 4
    limit.value = 8.0
    for _ in range(7):
        limit.succeeded()
    assert limit.slots == 8
    limit.succeeded()
    assert limit.slots == 9


def _breaker() -> CircuitBreaker:
    return CircuitBreaker(failures=4, window_s=10.0, probe_interval_s=2.0)


def _fail(breaker: CircuitBreaker, key: str | None, now: float, *, probe: bool = False) -> None:
    breaker.record(endpoint="report", key=key, status=503, probe=probe, now=now)


def test_breaker_opens_on_failures_across_users_not_for_one_user() -> None:
    """Failures of one user's report never open it (a poison message); the same count across
    three users does, and then nothing goes until the probe time."""
    breaker = _breaker()
    for t in range(10):
        _fail(breaker, "poison", float(t))
    assert breaker.state is BreakerState.CLOSED
    for t, key in enumerate(["a", "b", "c", "a"]):
        _fail(breaker, key, 20.0 + t)
    assert breaker.state is BreakerState.OPEN
    assert breaker.wait(23.0) == pytest.approx(2.0)
    assert breaker.outage_since(0.0)


def test_breaker_ignores_old_failures_429_and_successes_reset_the_run() -> None:
    """Failures outside the window, 429s and a success in between keep it closed."""
    breaker = _breaker()
    for t, key in enumerate(["a", "b", "c"]):
        _fail(breaker, key, float(t))
    _fail(breaker, "d", 30.0)  # the first three are out of the window
    breaker.record(endpoint="report", key="e", status=429, probe=False, now=30.1)
    _fail(breaker, "f", 30.2)
    _fail(breaker, "g", 30.3)
    breaker.record(endpoint="report", key="h", status=200, probe=False, now=30.4)
    _fail(breaker, "i", 30.5)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.wait(30.5) == 0.0


def test_breaker_probes_one_at_a_time_and_closes_on_success() -> None:
    """Open: one probe after the interval, none while it is out; a failed probe re-opens for
    another interval; a success elsewhere lets the next probe go; a success closes it."""
    breaker = _breaker()
    for t, key in enumerate("abcd"):
        _fail(breaker, key, float(t))
    assert breaker.wait(4.0) == pytest.approx(1.0)
    assert breaker.granted()  # the probe, at t=5
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.wait(5.0) is None
    _fail(breaker, "a", 5.5, probe=True)
    assert breaker.state is BreakerState.OPEN
    assert breaker.wait(5.5) == pytest.approx(2.0)
    assert breaker.granted()
    breaker.record(endpoint="backend_token", key="b", status=200, probe=True, now=7.6)
    assert breaker.state is BreakerState.HALF_OPEN
    assert breaker.wait(7.6) == 0.0
    assert breaker.granted()
    breaker.record(endpoint="report", key="b", status=200, probe=True, now=7.8)
    assert breaker.state is BreakerState.CLOSED
    assert breaker.outage_since(7.0)
    assert not breaker.outage_since(8.0)


def test_login_failures_open_the_breaker_without_users() -> None:
    """Failures of a request that carries no user (the login token) open it on their own."""
    breaker = _breaker()
    for t in range(4):
        breaker.record(endpoint="login_token", key=None, status=None, probe=False, now=float(t))
    assert breaker.state is BreakerState.OPEN


def test_disabled_breaker_never_opens() -> None:
    """ALICE_BREAKER_FAILURES=0 turns it off."""
    breaker = CircuitBreaker(failures=0, window_s=10.0, probe_interval_s=2.0)
    for t, key in enumerate("abcdefgh"):
        _fail(breaker, key, float(t) / 10)
    assert breaker.state is BreakerState.CLOSED
