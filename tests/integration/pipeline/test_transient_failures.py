"""Transient failures: an Alice outage makes messages wait (bounded, without a hot loop) instead
of dead-lettering them, while a report that keeps failing alone is dead-lettered."""

from __future__ import annotations

import time
import uuid

import asyncpg

from emulator import AliceEmulator
from service.settings import Settings
from tests.integration.pipeline.conftest import (
    AliceGateway,
    Producer,
    ReaderFactory,
    SettingsFactory,
    Topics,
    eventually,
    metric,
    running,
    settled_dead_letters,
)

MAX_ATTEMPTS = 3


def max_report_requests(settings: Settings, window_s: float) -> int:
    """The most report requests one message can make in `window_s` seconds of failures.

    Between attempts the processor sleeps at least half of min(max, initial * 2**(n-1)) (full
    jitter over the upper half), and each attempt makes at most `alice_retry_attempts` calls.
    """
    attempts, slept = 1, 0.0
    while True:
        ceiling = min(
            settings.transient_backoff_max_s,
            settings.transient_backoff_initial_s * 2 ** (attempts - 1),
        )
        slept += ceiling / 2
        if slept > window_s:
            return attempts * settings.alice_retry_attempts
        attempts += 1


async def stored(pg: asyncpg.Connection, user_id: str) -> bool:
    """Whether a snapshot of the user was stored."""
    count = await pg.fetchval("SELECT count(*) FROM report_snapshots WHERE user_id = $1", user_id)
    return bool(count == 1)


async def test_alice_outage_is_waited_out_not_dead_lettered(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    gateway: AliceGateway,
    producer: Producer,
    read_topic: ReaderFactory,
    topics: Topics,
    pg: asyncpg.Connection,
) -> None:
    """While Alice answers 503 (reports and health check alike) for twice
    TRANSIENT_MAX_ATTEMPTS attempts, the message is retried with backoff and a bounded
    number of requests, not dead-lettered, and stored once Alice recovers."""
    user_id = str(uuid.uuid4())
    emulator.create_user(user_id)
    settings = make_settings(alice_api_url=gateway.base_url, transient_max_attempts=MAX_ATTEMPTS)
    dlq = await read_topic(topics.dlq)
    emulator.set_faults(error_rate=1.0, error_status=503, endpoints=("user_report",))
    gateway.healthcheck_status = 503  # the emulator's own /healthcheck is never faulty

    async with running(settings) as service:
        outage_started = time.monotonic()
        await producer.send({"user_id": user_id})

        def failed_attempts() -> float:
            return metric(service, "ingestor_transient_failures_total", reason="alice_unavailable")

        async def outlasted_the_bound() -> bool:
            return failed_attempts() >= 2 * MAX_ATTEMPTS

        # Twice as many failed attempts as would dead-letter it, had they been counted.
        await eventually(outlasted_the_bound)
        failed_requests = emulator.counts().status("user_report", 503)
        emulator.clear_faults()
        gateway.healthcheck_status = None
        outage_s = time.monotonic() - outage_started

        await eventually(lambda: stored(pg, user_id))
        await settled_dead_letters(producer, dlq, 0)

    assert failed_requests <= max_report_requests(settings, outage_s)
    outcome = await pg.fetchval("SELECT outcome FROM inbox WHERE user_id = $1", user_id)
    assert outcome == "stored"
    quarantined = await pg.fetchval("SELECT count(*) FROM quarantine WHERE user_id = $1", user_id)
    assert quarantined == 0


async def test_report_failing_alone_is_dead_lettered_as_alice_unavailable(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    gateway: AliceGateway,
    producer: Producer,
    read_topic: ReaderFactory,
    topics: Topics,
    pg: asyncpg.Connection,
) -> None:
    """A user whose report keeps answering 503 while other users' reports are served is a
    poison message: dead-lettered after TRANSIENT_MAX_ATTEMPTS attempts as alice_unavailable,
    and the other users are stored."""
    poison = str(uuid.uuid4())
    healthy = [str(uuid.uuid4()) for _ in range(3)]
    for user_id in [poison, *healthy]:
        emulator.create_user(user_id)
    gateway.failing_users.add(poison)
    settings = make_settings(alice_api_url=gateway.base_url, transient_max_attempts=MAX_ATTEMPTS)
    dlq = await read_topic(topics.dlq)

    async with running(settings):
        await producer.send({"user_id": poison})
        for user_id in healthy:
            await producer.send({"user_id": user_id})
        [letter] = await settled_dead_letters(producer, dlq, 1)

        async def all_stored() -> bool:
            return all([await stored(pg, user_id) for user_id in healthy])

        await eventually(all_stored)

    assert letter.key == poison.encode()
    assert letter.headers["dlq_error_class"] == b"alice_unavailable"
    assert int(letter.headers["dlq_attempts"]) >= MAX_ATTEMPTS
    calls = gateway.report_calls[poison]
    assert calls <= int(letter.headers["dlq_attempts"]) * settings.alice_retry_attempts
    row = await pg.fetchrow(
        "SELECT error_code, report_body FROM quarantine WHERE user_id = $1", poison
    )
    assert row is not None
    assert row["error_code"] == "alice_unavailable"
    assert row["report_body"] is None
    assert not await stored(pg, poison)
