"""The processor's retry decisions: Retry-After is honoured, throttling and outages never count."""

from __future__ import annotations

import pytest

from service.errors import (
    AliceAuthError,
    AliceThrottled,
    AliceUnavailable,
    IngestorError,
    StorageUnavailable,
)
from service.processor import RetryPolicy, not_own_fault

POLICY = RetryPolicy(max_attempts=8, initial_s=0.5, max_s=60.0)


def test_retry_after_sets_the_wait_whatever_the_backoff() -> None:
    """After one failure the backoff would be at most 0.5 s; a Retry-After of 20 s makes the
    wait 20 s plus at most 1 s of jitter."""
    for _ in range(50):
        assert 20.0 <= POLICY.delay(1, retry_after=20.0) <= 21.0
        assert 0.25 <= POLICY.delay(1) <= 0.5


def test_retry_after_is_bounded_by_the_backoff_ceiling() -> None:
    """A Retry-After of a day waits TRANSIENT_BACKOFF_MAX_S (plus jitter), then asks again."""
    assert 60.0 <= POLICY.delay(1, retry_after=86_400.0) <= 61.0


@pytest.mark.parametrize(
    ("error", "not_own"),
    [
        (AliceThrottled("429", status=429, retry_after=60.0), True),
        (AliceThrottled("held by the client's budget"), True),
        (AliceUnavailable("503 while the breaker opened", status=503, outage=True), True),
        (AliceUnavailable("503", status=503), False),
        (AliceAuthError("key refused", status=401), False),
        (StorageUnavailable("database down"), False),
    ],
)
def test_which_failures_are_never_the_message_s_own(error: IngestorError, not_own: bool) -> None:
    """429s, held requests and failures during an outage seen by the breaker never count;
    a plain 503 is left to the health rule."""
    assert not_own_fault(error) is not_own
