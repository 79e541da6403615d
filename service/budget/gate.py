"""`AliceBudget`: the one gate every Alice request of the process passes, in priority order.

    permit = await budget.acquire(Priority.PIPELINE, timeout=left)   # may raise Held
    try:
        answer = await send()
    finally:
        budget.release(permit, endpoint="user_report", key=user_id, status=answer.status)

A request is granted when all of these agree, in one decision: a concurrency slot is free
(`AdaptiveLimit`), a token is in the bucket (`TokenBucket`), no 429 asked everyone to wait
(`Retry-After` holds the whole gate: it is the API key that is throttled, not one request),
and the breaker lets it go (`CircuitBreaker`). Waiters are served by priority, then in arrival
order: a BACKGROUND caller (the reconciler) is granted only when no PIPELINE caller waits, so
it gets only what the pipeline leaves. A waiter that is not granted within its timeout gets
`Held` (transient, never the message's fault), so that retry budgets and liveness see time
pass instead of a task parked for ever behind an open breaker.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from service.budget.aimd import AdaptiveLimit
from service.budget.breaker import BreakerState, CircuitBreaker, is_failure
from service.budget.bucket import TokenBucket
from service.budget.permits import BudgetObserver, Held, Permit, Priority

if TYPE_CHECKING:
    from service.settings import Settings

log = structlog.get_logger(__name__)

DEFAULT_HOLD_S = 1.0  # a 429 without a usable Retry-After holds the gate this long
MAX_HOLD_S = 60.0  # no single answer holds the whole gate longer than this


_Waiter = tuple[int, int, "asyncio.Future[Permit]"]


class AliceBudget:
    """The process-wide budget of Alice requests; see the module docstring."""

    def __init__(
        self,
        *,
        max_requests_per_s: float,
        min_concurrency: int,
        max_concurrency: int,
        breaker_failures: int = 0,
        breaker_window_s: float = 10.0,
        breaker_probe_interval_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
        observer: BudgetObserver | None = None,
    ) -> None:
        self._clock = clock
        self._bucket = TokenBucket(rate=max_requests_per_s, now=clock())
        self._limit = AdaptiveLimit(floor=min_concurrency, ceiling=max_concurrency)
        self._breaker = CircuitBreaker(
            failures=breaker_failures,
            window_s=breaker_window_s,
            probe_interval_s=breaker_probe_interval_s,
        )
        self._observer = observer
        self._in_flight = 0
        self._hold_until = float("-inf")
        self._queue: list[_Waiter] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None
        if observer is not None:
            observer.concurrency_limit(self._limit.slots)
            observer.breaker_state(self._breaker.state)

    @classmethod
    def from_settings(
        cls, settings: Settings, *, observer: BudgetObserver | None = None
    ) -> AliceBudget:
        """The budget ALICE_MAX_REQUESTS_PER_S, ALICE_*_CONCURRENCY and ALICE_BREAKER_* say."""
        return cls(
            max_requests_per_s=settings.alice_max_requests_per_s,
            min_concurrency=settings.alice_min_concurrency,
            max_concurrency=settings.alice_max_concurrency,
            breaker_failures=settings.alice_breaker_failures,
            breaker_window_s=settings.alice_breaker_window_s,
            breaker_probe_interval_s=settings.alice_breaker_probe_interval_s,
            observer=observer,
        )

    # --- what callers and metrics read -------------------------------------------------------

    @property
    def concurrency_limit(self) -> int:
        """Requests that may be in flight now."""
        return self._limit.slots

    @property
    def breaker_state(self) -> BreakerState:
        """Closed, open or half-open."""
        return self._breaker.state

    @property
    def in_flight(self) -> int:
        """Requests granted and not released yet."""
        return self._in_flight

    def outage_since(self, since: float) -> bool:
        """Whether the breaker was open at any moment after `since` (monotonic seconds)."""
        return self._breaker.outage_since(since)

    # --- acquire and release ---------------------------------------------------------------

    async def acquire(
        self, priority: Priority = Priority.PIPELINE, *, timeout: float | None = None
    ) -> Permit:
        """Wait for a grant; `Held` after `timeout` seconds (None: wait as long as it takes)."""
        now = self._clock()
        if not self._queue and self._ready_in(now) == 0.0:
            return self._grant(priority, now)
        future: asyncio.Future[Permit] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._queue, (int(priority), next(self._order), future))
        self._pump()
        try:
            async with asyncio.timeout(timeout):
                permit = await future
        except TimeoutError:
            self._drop(future)
            if self._observer is not None:
                self._observer.limiter_waited(priority.name.lower(), self._clock() - now)
            raise Held(
                f"held by the client's budget ({self._breaker.state.name.lower()})",
                retry_after=self._next_chance(),
                outage=self._breaker.state is not BreakerState.CLOSED,
            ) from None
        except asyncio.CancelledError:
            self._drop(future)
            raise
        if self._observer is not None:
            self._observer.limiter_waited(priority.name.lower(), self._clock() - now)
        return permit

    def release(
        self,
        permit: Permit,
        *,
        endpoint: str,
        status: int | None,
        key: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """The request got `status` (None: no answer: a timeout or a lost connection)."""
        if permit.released:
            return
        permit.released = True
        self._in_flight -= 1
        now = self._clock()
        limit, state = self._limit.slots, self._breaker.state
        if status == 429:
            hold = DEFAULT_HOLD_S if retry_after is None else retry_after
            self._hold_until = max(self._hold_until, now + min(hold, MAX_HOLD_S))
        # A failed probe is the outage that opened the breaker seen again: neither a new
        # overload (halving on each would leave the limit at its floor when Alice is back) nor
        # a success (growing on each would meet the recovery with more than the outage began).
        if is_failure(status) and permit.probe:
            pass
        elif status == 429 or is_failure(status):
            self._limit.overloaded(permit.epoch)
        else:
            self._limit.succeeded()
        self._breaker.record(endpoint=endpoint, key=key, status=status, probe=permit.probe, now=now)
        self._changed(limit, state)
        self._pump()

    def abandon(self, permit: Permit) -> None:
        """The request ended with nothing to learn from (cancelled, a refused body)."""
        if permit.released:
            return
        permit.released = True
        self._in_flight -= 1
        self._breaker.neutral(probe=permit.probe)
        self._pump()

    # --- the dispatcher --------------------------------------------------------------------

    def _ready_in(self, now: float) -> float | None:
        """Seconds until a request may be granted (0: now); None: only after a release."""
        if self._in_flight >= self._limit.slots:
            return None
        breaker = self._breaker.wait(now)
        if breaker is None:
            return None
        return max(breaker, self._hold_until - now, self._bucket.wait(now), 0.0)

    def _grant(self, priority: Priority, now: float) -> Permit:
        self._bucket.take(now)
        self._in_flight += 1
        state = self._breaker.state
        probe = self._breaker.granted()
        if probe and state is not self._breaker.state:
            self._changed(self._limit.slots, state)
        return Permit(priority, self._limit.epoch, probe)

    def _pump(self) -> None:
        """Grant queued requests, best priority first, while the gate allows."""
        now = self._clock()
        while self._queue:
            _, _, future = self._queue[0]
            if future.done():  # cancelled or timed out while queued
                heapq.heappop(self._queue)
                continue
            delay = self._ready_in(now)
            if delay is None:
                return  # a release pumps again
            if delay > 0:
                self._wake_in(delay)
                return
            priority, _, _ = heapq.heappop(self._queue)
            future.set_result(self._grant(Priority(priority), now))

    def _wake_in(self, delay: float) -> None:
        loop = asyncio.get_running_loop()
        when = loop.time() + delay
        if self._timer is not None and not self._timer.cancelled() and self._timer.when() <= when:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_at(when, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._pump()

    def _drop(self, future: asyncio.Future[Permit]) -> None:
        if future.done() and not future.cancelled():
            self.abandon(future.result())  # granted just as the waiter gave up
        else:
            future.cancel()

    def _next_chance(self) -> float | None:
        now = self._clock()
        wait = self._breaker.wait(now)
        hold = self._hold_until - now
        candidates = [w for w in (wait, hold) if w is not None and w > 0]
        return max(candidates) if candidates else None

    def _changed(self, limit: int, state: BreakerState) -> None:
        if self._limit.slots != limit:
            log.info("alice.concurrency_limit", limit=self._limit.slots)
            if self._observer is not None:
                self._observer.concurrency_limit(self._limit.slots)
        if self._breaker.state is not state:
            new = self._breaker.state
            (log.warning if new is BreakerState.OPEN else log.info)(
                "alice.breaker", state=new.name.lower(), endpoint=self._breaker.tripped_by
            )
            if self._observer is not None:
                self._observer.breaker_state(new)
