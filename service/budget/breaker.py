"""A circuit breaker that holds Alice work during an outage instead of hammering the API.

Closed: every request goes. Each endpoint keeps its run of consecutive failures (5xx, timeouts,
connection errors; a 429 is throttling, not an outage, and any other answer is a success). When
one endpoint has `failures` of them within `window_s`, from at least `MIN_DISTINCT_KEYS`
different users (a user whose report alone fails is a poison message, not an outage; a request
for no user, such as the login token, carries nothing from a message and counts for any), the
breaker opens.

Open: nothing goes; after `probe_interval_s` one request is let through as the probe
(half-open). Half-open: only the probe is in flight. A success of the endpoint that tripped
the breaker closes it; a success elsewhere (e.g. the backend token a report needed) lets the
next probe go at once; a failure opens it again for another interval. Any success of the
tripped endpoint, probe or not, closes it.

Hand-written: pybreaker, aiobreaker and purgatory fail calls fast while open (the caller gets
an error at once); here open means "hold the work and probe at a slow rate", and the opening
rule counts distinct users per endpoint, which none of them expresses.
"""

from __future__ import annotations

from collections import deque
from enum import Enum

MIN_DISTINCT_KEYS = 3


class BreakerState(Enum):
    """The breaker's state; the value is the metric's encoding."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


def is_failure(status: int | None) -> bool:
    """Whether an answer says "Alice is down": no answer at all, or a 5xx."""
    return status is None or status >= 500


class CircuitBreaker:
    """State and decisions only; the gate asks it before each grant and tells it each outcome."""

    def __init__(self, *, failures: int, window_s: float, probe_interval_s: float) -> None:
        self.failures = failures
        self.window_s = window_s
        self.probe_interval_s = probe_interval_s
        self.state = BreakerState.CLOSED
        self.tripped_by: str | None = None
        self._closed_at = float("-inf")
        self._runs: dict[str, deque[tuple[float, str | None]]] = {}
        self._next_probe = 0.0
        self._probe_out = False

    @property
    def enabled(self) -> bool:
        """Whether the breaker can open at all (ALICE_BREAKER_FAILURES > 0)."""
        return self.failures > 0

    def outage_since(self, since: float) -> bool:
        """Whether the breaker was open (or half-open) at any moment after `since`."""
        return self.state is not BreakerState.CLOSED or self._closed_at > since

    def wait(self, now: float) -> float | None:
        """Seconds until a request may go (0: now); None: only once the probe has finished."""
        if self.state is BreakerState.CLOSED:
            return 0.0
        if self._probe_out:
            return None
        return max(0.0, self._next_probe - now)

    def granted(self) -> bool:
        """A request goes now (after `wait` said 0); whether it is the probe."""
        if self.state is BreakerState.CLOSED:
            return False
        self.state = BreakerState.HALF_OPEN
        self._probe_out = True
        return True

    def record(
        self, *, endpoint: str, key: str | None, status: int | None, probe: bool, now: float
    ) -> None:
        """The outcome of one request (`status` None: no answer)."""
        if probe:
            self._probe_out = False
        if not is_failure(status):
            if status == 429:
                return  # throttled: says nothing about an outage
            self._runs.pop(endpoint, None)
            if self.state is not BreakerState.CLOSED and endpoint == self.tripped_by:
                self._close(now)
            return
        if self.state is not BreakerState.CLOSED:
            if probe:
                self._open(now, endpoint=self.tripped_by or endpoint)
            return
        run = self._runs.setdefault(endpoint, deque())
        run.append((now, key))
        while run and run[0][0] < now - self.window_s:
            run.popleft()
        while len(run) > self.failures:
            run.popleft()
        if self.enabled and len(run) >= self.failures and self._many_users(run):
            self._open(now, endpoint=endpoint)

    @staticmethod
    def _many_users(run: deque[tuple[float, str | None]]) -> bool:
        keys = {key for _, key in run}
        return None in keys or len(keys) >= MIN_DISTINCT_KEYS

    def _open(self, now: float, *, endpoint: str) -> None:
        self.state = BreakerState.OPEN
        self.tripped_by = endpoint
        self._next_probe = now + self.probe_interval_s
        self._probe_out = False
        self._runs.clear()

    def _close(self, now: float) -> None:
        self._closed_at = now
        self.state = BreakerState.CLOSED
        self.tripped_by = None
        self._probe_out = False
        self._runs.clear()

    def neutral(self, *, probe: bool) -> None:
        """A request ended without an answer that says anything (cancelled, refused body)."""
        if probe:
            self._probe_out = False
