"""Request counters by endpoint and by outcome, for tests that assert on retries.

Outcomes are the HTTP status as a string ("200", "503", ...) or "reset" for an aborted
connection. Endpoint names: `login_token`, `backend_token`, `user_report`, `user_state`,
`delete_user`, `healthcheck` (admin calls are not counted).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RequestCounts:
    """A snapshot of the counters."""

    by_endpoint: dict[str, int]
    """Requests received per endpoint, whatever their outcome."""
    by_status: dict[str, dict[str, int]]
    """Per endpoint, requests per outcome ("200", "401", "503", "reset", ...)."""

    def __getitem__(self, endpoint: str) -> int:
        return self.by_endpoint.get(endpoint, 0)

    def status(self, endpoint: str, outcome: int | str) -> int:
        """How many calls to `endpoint` ended with `outcome` (a status code or "reset")."""
        return self.by_status.get(endpoint, {}).get(str(outcome), 0)

    def total(self) -> int:
        """All counted requests."""
        return sum(self.by_endpoint.values())

    def to_json(self) -> dict[str, Any]:
        """The admin API's shape: `{"by_endpoint": {...}, "by_status": {...}}`."""
        return {"by_endpoint": self.by_endpoint, "by_status": self.by_status}


class RequestCounters:
    """Mutable counters the server updates."""

    def __init__(self) -> None:
        self._received: Counter[str] = Counter()
        self._outcomes: defaultdict[str, Counter[str]] = defaultdict(Counter)

    def received(self, endpoint: str) -> None:
        """Count one request to `endpoint`."""
        self._received[endpoint] += 1

    def finished(self, endpoint: str, outcome: int | str) -> None:
        """Count the outcome of one request to `endpoint`."""
        self._outcomes[endpoint][str(outcome)] += 1

    def snapshot(self) -> RequestCounts:
        """A copy that later requests do not change."""
        return RequestCounts(
            by_endpoint=dict(self._received),
            by_status={name: dict(outcomes) for name, outcomes in self._outcomes.items()},
        )

    def reset(self) -> None:
        """Back to zero."""
        self._received.clear()
        self._outcomes.clear()
