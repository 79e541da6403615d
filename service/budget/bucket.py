"""A token bucket: at most `rate` grants a second on average, `burst` at once.

Hand-written rather than aiolimiter's `AsyncLimiter`: the gate must take a token in the same
decision as a concurrency slot and the breaker's consent, in priority order. `AsyncLimiter`
wakes its own waiters first come, first served, so a waiter would hold a token while it waits
for a slot (or while the breaker holds), and a background caller could take the token a
pipeline caller needs. Here the bucket is a pure counter: `wait()` says how long until a token,
`take()` spends one; the gate decides who gets it.
"""

from __future__ import annotations

# A twentieth of a second of requests: enough to absorb timer lateness on a busy event loop,
# small enough that any 1 s window sees at most rate * 1.05 + 1 requests.
BURST_S = 0.05


class TokenBucket:
    """`rate` tokens a second, at most `burst` stored; rate 0 means unlimited."""

    def __init__(self, *, rate: float, now: float, burst: float | None = None) -> None:
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate * BURST_S)
        self._tokens = self.burst
        self._updated = now

    @property
    def unlimited(self) -> bool:
        """Whether there is no rate cap at all."""
        return self.rate <= 0

    def _refill(self, now: float) -> None:
        if now > self._updated:
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now

    def wait(self, now: float) -> float:
        """Seconds until a token is available (0: one is available now)."""
        if self.unlimited:
            return 0.0
        self._refill(now)
        if self._tokens >= 1.0:
            return 0.0
        return (1.0 - self._tokens) / self.rate

    def take(self, now: float) -> None:
        """Spend one token (the caller checked `wait(now) == 0`)."""
        if not self.unlimited:
            self._refill(now)
            self._tokens -= 1.0
