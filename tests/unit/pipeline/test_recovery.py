"""Backoffs end when the dependency is back: a success wakes every waiter, and the database
probe finds the recovery while every message is still backing off."""

from __future__ import annotations

import asyncio
import time

import pytest

from service import recovery
from service.recovery import Health

LONG = 600.0  # a backoff no test waits out: finishing at all proves the early wake


async def test_a_success_wakes_every_waiter_of_that_dependency_only() -> None:
    """Waiters of the database end at its first success; a waiter of Alice keeps waiting."""
    health = Health()
    database = [asyncio.create_task(health.pause("database", LONG)) for _ in range(3)]
    alice = asyncio.create_task(health.pause("alice", LONG))
    await asyncio.sleep(0)
    health.success("database")
    await asyncio.wait_for(asyncio.gather(*database), timeout=10)
    assert not alice.done()
    health.success("alice")
    await asyncio.wait_for(alice, timeout=10)


async def test_a_pause_after_a_later_success_does_not_wait() -> None:
    """A message whose attempt began before another's success retries at once."""
    health = Health()
    began = time.monotonic()
    health.success("database")
    await asyncio.wait_for(health.pause("database", LONG, since=began), timeout=10)


async def test_without_a_success_the_pause_lasts_its_delay() -> None:
    """With no success, the pause ends after its own (short) delay, not before."""
    health = Health()
    started = time.monotonic()
    await health.pause("database", 0.05)
    assert time.monotonic() - started >= 0.05


async def test_the_probe_wakes_waiters_once_the_check_passes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The probe retries a failing (or raising) check until it passes, then wakes every waiter;
    a second call while it runs starts no second probe."""
    monkeypatch.setattr(recovery, "PROBE_INITIAL_S", 0.01)
    monkeypatch.setattr(recovery, "PROBE_MAX_S", 0.02)
    health = Health()
    answers = [False, "raise", False, True]
    calls = 0

    async def check() -> bool:
        nonlocal calls
        answer = answers[calls]
        calls += 1
        if answer == "raise":
            raise ConnectionRefusedError
        return bool(answer)

    waiters = [asyncio.create_task(health.pause("database", LONG)) for _ in range(5)]
    health.probe("database", check)
    health.probe("database", check)
    await asyncio.wait_for(asyncio.gather(*waiters), timeout=10)
    assert calls == len(answers)
    assert health.succeeded_since("database", 0.0)
    await health.aclose()


async def test_aclose_stops_a_probe_that_never_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    """At shutdown a probe of a dependency still down is cancelled, not left running."""
    monkeypatch.setattr(recovery, "PROBE_INITIAL_S", 0.01)
    health = Health()
    checked = asyncio.Event()

    async def down() -> bool:
        checked.set()
        return False

    health.probe("database", down)
    await asyncio.wait_for(checked.wait(), timeout=10)
    probe = health._probes["database"]
    await health.aclose()
    assert probe.cancelled()
