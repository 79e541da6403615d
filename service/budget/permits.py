"""What callers of the budget hold and see: priorities, permits, `Held`, the observer port."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Protocol

from service.budget.breaker import BreakerState


class Priority(IntEnum):
    """Who asks: lower values are served first."""

    PIPELINE = 0
    BACKGROUND = 1


class Held(Exception):
    """The budget did not grant the request in time (rate, concurrency, 429 hold or breaker)."""

    def __init__(self, reason: str, *, retry_after: float | None, outage: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after
        self.outage = outage


@dataclass(slots=True)
class Permit:
    """One granted request; give it back with `release` or `abandon`."""

    priority: Priority
    epoch: int
    probe: bool
    released: bool = False


class BudgetObserver(Protocol):
    """Where the gate reports what it does (the service's metrics)."""

    def limiter_waited(self, priority: str, seconds: float) -> None:
        """A request waited `seconds` for the gate (only requests that waited at all)."""

    def concurrency_limit(self, limit: int) -> None:
        """The concurrency limit changed."""

    def breaker_state(self, state: BreakerState) -> None:
        """The breaker changed state."""
