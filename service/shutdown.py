"""Bounded shutdown: every step has a time limit, and the process has a last-resort deadline.

A shutdown step that waits on a dependency (a broker, a database, a task that does not honour
its cancellation) must not keep the process alive past SHUTDOWN_TIMEOUT_S: the orchestrator
SIGKILLs it then, and the work of the steps behind it (marking sent rows, committing offsets,
flushing spans) is lost. So each step runs under its own time limit, a step that overruns is
logged and left behind, and a watchdog thread ends the process if the event loop itself is
stuck (a blocking call): asyncio cannot time out a loop that does not run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
import time
from collections.abc import Awaitable, Iterable
from typing import Any

import structlog

log = structlog.get_logger(__name__)

EXIT_SHUTDOWN_OVERRUN = 70  # EX_SOFTWARE: the watchdog ended a shutdown that overran its bound
MIN_STEP_S = 0.5  # a step whose share is spent still gets this long (closing sockets)
WATCHDOG_MARGIN_S = 3.0  # past SHUTDOWN_TIMEOUT_S, for the interpreter's own exit


async def stop_tasks(tasks: Iterable[asyncio.Task[Any]], *, timeout_s: float, name: str) -> bool:
    """Cancel the tasks and wait for them at most `timeout_s`; True when all ended.

    Not `await task`: a task can swallow its cancellation (Python 3.11's `asyncio.wait_for`
    returns the inner result when the cancel and the result arrive together) and would then
    never end. A task still running after the bound is cancelled again and left behind.
    """
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    if not pending:
        return True
    _, still = await asyncio.wait(pending, timeout=timeout_s)
    for task in still:
        task.cancel()
    if still:
        log.warning("tasks did not stop in time; left behind", step=name, tasks=len(still))
    return not still


async def bounded(step: Awaitable[Any], *, timeout_s: float, name: str) -> None:
    """Await one shutdown step at most `timeout_s`; an overrun or a failure is logged, never
    raised, so that the steps behind it still run."""
    try:
        async with asyncio.timeout(max(timeout_s, 0.0)):
            await step
    except TimeoutError:
        log.warning("shutdown step overran its bound", step=name, timeout_s=round(timeout_s, 2))
    except Exception as exc:
        log.warning("shutdown step failed", step=name, error=type(exc).__name__)


class ShutdownClock:
    """What is left of the shutdown budget, from the moment the shutdown started."""

    def __init__(self, budget_s: float) -> None:
        self._budget_s = budget_s
        self._started: float | None = None

    def start(self) -> None:
        """The shutdown began (SIGTERM)."""
        self._started = time.monotonic()

    def share(self, wanted_s: float) -> float:
        """`wanted_s`, or what is left of the budget when less (at least a moment)."""
        used = 0.0 if self._started is None else time.monotonic() - self._started
        return max(MIN_STEP_S, min(wanted_s, self._budget_s - used))


class Watchdog:
    """Ends the process with EXIT_SHUTDOWN_OVERRUN when a shutdown overruns its deadline."""

    def __init__(self, deadline_s: float) -> None:
        self._deadline_s = deadline_s
        self._timer: threading.Timer | None = None

    def arm(self) -> None:
        """Start counting (once; later calls keep the first deadline)."""
        if self._timer is None:
            self._timer = threading.Timer(self._deadline_s, self._expire)
            self._timer.daemon = True
            self._timer.start()

    def disarm(self) -> None:
        """The shutdown finished in time."""
        if self._timer is not None:
            self._timer.cancel()

    def _expire(self) -> None:
        # A thread, not a task: it runs even when the event loop is blocked.
        with contextlib.suppress(Exception):
            print(f"shutdown overran {self._deadline_s:g} s; exiting", file=sys.stderr, flush=True)
        os._exit(EXIT_SHUTDOWN_OVERRUN)
