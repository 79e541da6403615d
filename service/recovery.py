"""Dependency health as messages see it: telling an outage from a poison message, and ending
every wait as soon as the dependency is back.

A message that meets a transient failure backs off exponentially (`RetryPolicy`). During a long
outage its backoff grows to many seconds, and with `MAX_IN_FLIGHT` messages all backing off, a
new message cannot start either: the service would stay idle for up to one full backoff after
the dependency came back (16 s after a 30 s database cut, measured by `make reliability`). So
each wait is also a wait for the dependency's next success: the first message (or probe) that
succeeds wakes every waiter of that dependency at once. For the database a single probe runs
while messages wait (a write-capable check every 0.25 s doubling to `PROBE_MAX_S`, 1 s: one
cheap query a second at most), so recovery does not depend on the luckiest backoff; Alice is
probed by its own circuit breaker (`service/budget/`), whose probe's success wakes the waiters
in the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger(__name__)

PROBE_INITIAL_S = 0.25
PROBE_MAX_S = 1.0


class Health:
    """Recent successes and failures of each dependency, to tell an outage from a poison message.

    A transient failure of one message counts towards its bound only when the failure is its
    own: another message succeeded since its attempt began (the dependency works for others),
    or no other message was served at all and the dependency's health check passes. When other
    messages fail too, it is an outage (even one of the report endpoint only, with a green
    health check), and nothing counts.
    """

    _MAX_TRACKED = 1024

    def __init__(self) -> None:
        self._last_success: dict[str, float] = {}
        self._failures: dict[str, OrderedDict[str, float]] = {}
        # One event per dependency with waiters; set (and dropped) by the next success.
        self._recovered: dict[str, asyncio.Event] = {}
        self._probes: dict[str, asyncio.Task[None]] = {}

    def success(self, dependency: str) -> None:
        """Note a success of this dependency; every message waiting on it retries now."""
        self._last_success[dependency] = time.monotonic()
        event = self._recovered.pop(dependency, None)
        if event is not None:
            event.set()

    def failure(self, dependency: str, key: str) -> None:
        """Note a transient failure of this dependency for one message key (user)."""
        failures = self._failures.setdefault(dependency, OrderedDict())
        failures[key] = time.monotonic()
        failures.move_to_end(key)
        if len(failures) > self._MAX_TRACKED:
            failures.popitem(last=False)

    def succeeded_since(self, dependency: str, since: float) -> bool:
        """Whether the dependency served any request after `since` (monotonic seconds)."""
        return self._last_success.get(dependency, float("-inf")) > since

    def others_failed_since(self, dependency: str, since: float, key: str) -> bool:
        """Whether another key's request to the dependency failed after `since`."""
        failures: dict[str, float] = self._failures.get(dependency) or {}
        return any(at > since for other, at in failures.items() if other != key)

    async def pause(self, dependency: str, delay: float, *, since: float | None = None) -> None:
        """Wait `delay` seconds, or less: until the dependency's next success (no wait at all
        when it succeeded after `since`, the monotonic time the failing attempt began)."""
        if since is not None and self.succeeded_since(dependency, since):
            return
        event = self._recovered.get(dependency)
        if event is None:
            event = self._recovered[dependency] = asyncio.Event()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), delay)

    def probe(self, dependency: str, check: Callable[[], Awaitable[bool]]) -> None:
        """Start one background probe of the dependency, unless one runs: it calls `check`
        (0.5 s, then doubling up to `PROBE_MAX_S`) until it answers True, then notes a success.
        An exception from `check` counts as False."""
        running = self._probes.get(dependency)
        if running is not None and not running.done():
            return
        self._probes[dependency] = asyncio.get_running_loop().create_task(
            self._probe(dependency, check), name=f"probe-{dependency}"
        )

    async def _probe(self, dependency: str, check: Callable[[], Awaitable[bool]]) -> None:
        wait = PROBE_INITIAL_S
        started = time.monotonic()
        while not self.succeeded_since(dependency, started):
            await asyncio.sleep(wait)
            try:
                healthy = await check()
            except Exception:  # a failing probe means "not yet"
                healthy = False
            if healthy:
                log.info("dependency answers again", dependency=dependency)
                self.success(dependency)
                return
            wait = min(PROBE_MAX_S, wait * 2)

    async def aclose(self) -> None:
        """Stop the probes (at shutdown)."""
        probes, self._probes = list(self._probes.values()), {}
        for task in probes:
            task.cancel()
        for task in probes:
            with contextlib.suppress(asyncio.CancelledError):
                await task
