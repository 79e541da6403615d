"""Failures over real HTTP: what is retried, for how long, and what is raised."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from emulator import AliceEmulator
from service.errors import AliceRejected, AliceUnavailable, AliceUserNotFound
from tests.integration.alice.conftest import ClientFactory


async def test_429_waits_the_retry_after(
    emulator: AliceEmulator, make_client: ClientFactory, new_user: Callable[[], str]
) -> None:
    """A 429 with `Retry-After: 1` is retried no sooner than 1 s later, then succeeds."""
    user = new_user()
    client = make_client()
    await client.fetch_report(user)  # tokens first, so only the report call is timed
    emulator.fail_next(1, 429, retry_after_s=1)
    started = time.monotonic()
    assert await client.fetch_report(user) == emulator.report_bytes(user)
    assert time.monotonic() - started >= 1.0
    assert emulator.counts().status("user_report", 429) == 1
    assert emulator.counts()["user_report"] == 3


async def test_lasting_5xx_is_unavailable_after_the_attempts(
    emulator: AliceEmulator, make_client: ClientFactory, new_user: Callable[[], str]
) -> None:
    """A lasting 503 is requested exactly `retry_attempts` times, then `AliceUnavailable` (503)."""
    user = new_user()
    client = make_client(retry_attempts=3)
    emulator.fail_next(10, 503)
    with pytest.raises(AliceUnavailable) as caught:
        await client.fetch_report(user)
    assert caught.value.transient
    assert caught.value.status == 503
    assert emulator.counts()["user_report"] == 3


async def test_a_passing_5xx_is_retried_away(
    emulator: AliceEmulator, make_client: ClientFactory, new_user: Callable[[], str]
) -> None:
    """Two 502s followed by a 200 give the report on the third attempt."""
    user = new_user()
    client = make_client(retry_attempts=3)
    emulator.fail_next(2, 502)
    assert await client.fetch_report(user) == emulator.report_bytes(user)
    assert emulator.counts()["user_report"] == 3


async def test_token_endpoints_are_retried_too(
    emulator: AliceEmulator, make_client: ClientFactory, new_user: Callable[[], str]
) -> None:
    """A 503 on `login_token` and on `backend_token` is retried like any other call."""
    user = new_user()
    client = make_client()
    emulator.fail_next(1, 503, endpoint="login_token")
    emulator.fail_next(1, 503, endpoint="backend_token")
    assert await client.fetch_report(user) == emulator.report_bytes(user)
    counts = emulator.counts()
    assert (counts["login_token"], counts["backend_token"]) == (2, 2)


async def test_slow_headers_time_out_then_unavailable(
    emulator: AliceEmulator, make_client: ClientFactory, new_user: Callable[[], str]
) -> None:
    """Answers slower than the read timeout are retried `retry_attempts` times, then unavailable."""
    user = new_user()
    client = make_client(read_timeout_s=0.2, retry_attempts=3)
    await client.fetch_report(user)
    emulator.reset_counts()
    emulator.set_faults(latency_ms=1000)
    with pytest.raises(AliceUnavailable) as caught:
        await client.fetch_report(user)
    assert caught.value.status is None
    assert "timeout" in caught.value.reason
    assert emulator.counts()["user_report"] == 3


async def test_a_slow_body_times_out(
    emulator: AliceEmulator, make_client: ClientFactory, new_user: Callable[[], str]
) -> None:
    """A body that stalls after the headers is a timeout too, and the retry recovers."""
    user = new_user()
    client = make_client(read_timeout_s=0.2)
    emulator.fault_next(1, "slow", delay_ms=1000)
    assert await client.fetch_report(user) == emulator.report_bytes(user)
    assert emulator.counts()["user_report"] == 2


async def test_connection_resets_are_retried(
    emulator: AliceEmulator, make_client: ClientFactory, new_user: Callable[[], str]
) -> None:
    """Two aborted connections are retried and the third attempt returns the report."""
    user = new_user()
    client = make_client(retry_attempts=3)
    emulator.fault_next(2, "reset")
    assert await client.fetch_report(user) == emulator.report_bytes(user)
    assert emulator.counts().status("user_report", "reset") == 2


async def test_a_closed_port_is_unavailable(
    emulator: AliceEmulator, make_client: ClientFactory, new_user: Callable[[], str]
) -> None:
    """With nothing listening, the connection error becomes `AliceUnavailable` after retries."""
    user = new_user()
    client = make_client(retry_attempts=2)
    await emulator.stop()
    with pytest.raises(AliceUnavailable) as caught:
        await client.fetch_report(user)
    assert "connection" in caught.value.reason or "timeout" in caught.value.reason
    assert await client.healthcheck() is False


async def test_unknown_user_fails_at_once(
    emulator: AliceEmulator, make_client: ClientFactory, new_user: Callable[[], str]
) -> None:
    """A deleted user's report is a permanent `AliceUserNotFound` after exactly one request."""
    user = new_user()
    emulator.delete_user(user)
    client = make_client()
    with pytest.raises(AliceUserNotFound) as caught:
        await client.fetch_report(user)
    assert not caught.value.transient
    assert caught.value.status == 404
    assert "User not found" in caught.value.reason
    assert emulator.counts()["user_report"] == 1


@pytest.mark.parametrize("status", [400, 403, 405, 422])
async def test_client_errors_are_rejected_at_once(
    emulator: AliceEmulator, make_client: ClientFactory, new_user: Callable[[], str], status: int
) -> None:
    """400/403/405/422 are permanent `AliceRejected` after exactly one request."""
    user = new_user()
    client = make_client()
    emulator.fail_next(1, status)
    with pytest.raises(AliceRejected) as caught:
        await client.fetch_report(user)
    assert caught.value.status == status
    assert emulator.counts()["user_report"] == 1


async def test_invalid_json_is_passed_through(
    emulator: AliceEmulator, make_client: ClientFactory, new_user: Callable[[], str]
) -> None:
    """The client checks only the size of a report: a truncated body is returned as it came."""
    user = new_user()
    client = make_client()
    emulator.fault_next(1, "invalid_json")
    body = await client.fetch_report(user)
    assert body == emulator.report_bytes(user)[: len(body)]
    assert len(body) < len(emulator.report_bytes(user))


async def test_healthcheck(emulator: AliceEmulator, make_client: ClientFactory) -> None:
    """The health check is True against a running API and needs no token."""
    client = make_client()
    assert await client.healthcheck() is True
    counts = emulator.counts()
    assert (counts["healthcheck"], counts["login_token"]) == (1, 0)
