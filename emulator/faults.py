"""Fault injection: what may go wrong with the next API call, decided reproducibly.

Two kinds of faults:
- `Faults`: standing settings (latency, rates of 5xx / 429 / resets / invalid JSON / oversized
  bodies, slow bodies). Rates are drawn from a seeded `random.Random`, so a run with the same
  seed and the same request order sees the same faults.
- scheduled faults (`FaultInjector.schedule`): "the next N calls (to this endpoint) fail like
  this". Deterministic; what tests should prefer. Scheduled faults are served first.

Faults apply to the API endpoints only (`login_token`, `backend_token`, `user_report`,
`user_state`, `delete_user`), never to `/healthcheck` or the `/_emulator/` admin endpoints.
`Faults.endpoints` narrows the standing faults to some endpoints.
"""

from __future__ import annotations

import dataclasses
import random
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

FaultKind = Literal["status", "reset", "invalid_json", "oversized", "slow"]
FAULT_KINDS: tuple[str, ...] = ("status", "reset", "invalid_json", "oversized", "slow")
API_ENDPOINTS: tuple[str, ...] = (
    "login_token",
    "backend_token",
    "user_report",
    "user_state",
    "delete_user",
)


def _check_endpoints(endpoints: tuple[str | None, ...]) -> None:
    unknown = {name for name in endpoints if name is not None} - set(API_ENDPOINTS)
    if unknown:
        raise ValueError(f"unknown endpoints {sorted(unknown)}; known: {API_ENDPOINTS}")


@dataclass(frozen=True, slots=True)
class Faults:
    """Standing fault settings; the default is a healthy API."""

    latency_ms: float = 0.0
    """Fixed delay before every API response (asyncio.sleep, does not block the server)."""
    error_rate: float = 0.0
    """Share of calls (0..1) answered with `error_status`."""
    error_status: int = 503
    rate_limit_rate: float = 0.0
    """Share of calls (0..1) answered 429 with a `Retry-After: retry_after_s` header."""
    retry_after_s: int = 1
    reset_rate: float = 0.0
    """Share of calls (0..1) whose connection is aborted without a response."""
    invalid_json_rate: float = 0.0
    """Share of successful calls (0..1) whose 200 body is truncated, invalid JSON."""
    oversized_rate: float = 0.0
    """Share of successful calls (0..1) whose 200 body is padded to `oversized_bytes`."""
    oversized_bytes: int = 10 * 1024 * 1024
    slow_rate: float = 0.0
    """Share of successful calls (0..1) that send headers, wait `slow_body_ms`, then the body."""
    slow_body_ms: float = 0.0
    endpoints: tuple[str, ...] | None = None
    """Endpoints the standing faults apply to; None means every API endpoint."""

    def __post_init__(self) -> None:
        rates = [self.error_rate, self.rate_limit_rate, self.reset_rate, self.invalid_json_rate]
        rates += [self.oversized_rate, self.slow_rate]
        if not all(0 <= rate <= 1 for rate in rates):
            raise ValueError("fault rates are between 0 and 1")
        if min(self.latency_ms, self.slow_body_ms, self.retry_after_s, self.oversized_bytes) < 0:
            raise ValueError("delays and sizes are not negative")
        _check_endpoints(self.endpoints or ())

    def to_json(self) -> dict[str, Any]:
        """The settings as a JSON object (the admin API's shape)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, body: dict[str, Any], base: Faults | None = None) -> Faults:
        """Settings from a (partial) JSON object; absent keys keep `base`'s values."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(body) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        if body.get("endpoints") is not None:
            body = body | {"endpoints": tuple(body["endpoints"])}
        return dataclasses.replace(base or cls(), **body)


@dataclass(frozen=True, slots=True)
class Fault:
    """One fault to apply to one call."""

    kind: FaultKind
    status: int = 200
    retry_after_s: int | None = None
    delay_ms: float = 0.0


@dataclass(slots=True)
class _Scheduled:
    fault: Fault
    remaining: int
    endpoint: str | None


class FaultInjector:
    """Decides, per call, which fault (if any) applies."""

    def __init__(self, *, seed: int = 0) -> None:
        self.faults = Faults()
        self._rng = random.Random(seed)
        self._scheduled: deque[_Scheduled] = deque()

    def schedule(self, count: int, fault: Fault, endpoint: str | None = None) -> None:
        """Apply `fault` to the next `count` calls to `endpoint` (any API endpoint if None)."""
        _check_endpoints((endpoint,))
        if count > 0:
            self._scheduled.append(_Scheduled(fault, count, endpoint))

    def clear(self) -> None:
        """Back to a healthy API: no standing faults, nothing scheduled."""
        self.faults = Faults()
        self._scheduled.clear()

    def _take_scheduled(self, endpoint: str, *, before_handler: bool) -> Fault | None:
        for entry in self._scheduled:
            early = entry.fault.kind in {"status", "reset"}
            if entry.endpoint in {None, endpoint} and early == before_handler:
                entry.remaining -= 1
                if entry.remaining <= 0:
                    self._scheduled.remove(entry)
                return entry.fault
        return None

    def _applies(self, endpoint: str) -> bool:
        return self.faults.endpoints is None or endpoint in self.faults.endpoints

    def before_handler(self, endpoint: str) -> Fault | None:
        """A fault that replaces the response entirely (error status or reset), if any."""
        scheduled = self._take_scheduled(endpoint, before_handler=True)
        if scheduled is not None or not self._applies(endpoint):
            return scheduled
        f = self.faults
        if f.reset_rate and self._rng.random() < f.reset_rate:
            return Fault("reset")
        if f.rate_limit_rate and self._rng.random() < f.rate_limit_rate:
            return Fault("status", 429, retry_after_s=f.retry_after_s)
        if f.error_rate and self._rng.random() < f.error_rate:
            return Fault("status", f.error_status)
        return None

    def after_success(self, endpoint: str) -> Fault | None:
        """A fault that spoils a 200 response (bad body, huge body, slow body), if any."""
        scheduled = self._take_scheduled(endpoint, before_handler=False)
        if scheduled is not None or not self._applies(endpoint):
            return scheduled
        f = self.faults
        if f.invalid_json_rate and self._rng.random() < f.invalid_json_rate:
            return Fault("invalid_json")
        if f.oversized_rate and self._rng.random() < f.oversized_rate:
            return Fault("oversized")
        if f.slow_rate and self._rng.random() < f.slow_rate:
            return Fault("slow", delay_ms=f.slow_body_ms)
        return None
