"""Adaptive concurrency: additive increase, multiplicative decrease (AIMD), as TCP does.

The limit halves when Alice says it is overloaded (429, 5xx, a timeout or a lost connection)
and grows by one for every `limit` successes (about one step per round of requests), between
a floor and a ceiling (ALICE_MAX_CONCURRENCY). Only one halving per round: a failure of a
request granted before the last decrease (its `epoch` is older) is the same overload seen
again, so 128 requests failing together halve the limit once, not 128 times.
"""

from __future__ import annotations


class AdaptiveLimit:
    """The current concurrency limit, between `floor` and `ceiling`."""

    def __init__(self, *, floor: int, ceiling: int) -> None:
        self.floor = max(1, min(floor, ceiling))
        self.ceiling = ceiling
        self.value = float(ceiling)
        self.epoch = 0
        self._successes = 0
        """Bumped by every decrease; a permit remembers the epoch it was granted in."""

    @property
    def slots(self) -> int:
        """How many requests may be in flight now."""
        return int(self.value)

    def succeeded(self) -> None:
        """A request was answered normally: one more slot after `slots` of these."""
        if self.value >= self.ceiling:
            return
        self._successes += 1
        if self._successes >= self.slots:
            self._successes = 0
            self.value = min(float(self.ceiling), self.value + 1.0)

    def overloaded(self, epoch: int) -> bool:
        """A request granted in `epoch` met an overload; whether the limit was halved."""
        if epoch != self.epoch:
            return False
        self.epoch += 1
        self._successes = 0
        self.value = float(max(self.floor, self.slots // 2))
        return True
