"""Throttling and outages of Alice in the running service: a 429 is never the message's fault,
and an outage opens the breaker instead of hammering the API."""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import asyncpg
import structlog

from emulator import AliceEmulator
from tests.integration.pipeline.conftest import (
    Producer,
    ReaderFactory,
    SettingsFactory,
    Topics,
    eventually,
    metric,
    running,
)

log = structlog.get_logger(__name__)


async def outcomes(pg: asyncpg.Connection, user_ids: list[str]) -> dict[str, int]:
    """Inbox rows of these users, by outcome."""
    rows = await pg.fetch(
        "SELECT outcome, count(*) AS n FROM inbox WHERE user_id = ANY($1::uuid[]) GROUP BY 1",
        user_ids,
    )
    return {row["outcome"]: row["n"] for row in rows}


async def test_429_beyond_the_client_budget_is_waited_out_never_dead_lettered(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    topics: Topics,
    read_topic: ReaderFactory,
    pg: asyncpg.Connection,
) -> None:
    """Four 429s in a row whose Retry-After (2 s) exceeds the client's retry budget (1 s),
    with TRANSIENT_MAX_ATTEMPTS = 2: the message is not dead-lettered but stored, after
    waiting at least each Retry-After, and the failures are counted as alice_throttled."""
    user_id = str(uuid.uuid4())
    emulator.create_user(user_id)
    settings = make_settings(
        transient_max_attempts=2,
        alice_retry_timeout_s=1.0,
        transient_backoff_initial_s=0.1,
        transient_backoff_max_s=5.0,
    )
    emulator.fail_next(4, 429, retry_after_s=2)
    async with running(settings) as service:
        started = time.monotonic()
        await producer.send({"user_id": user_id})

        async def settled() -> bool:
            return sum((await outcomes(pg, [user_id])).values()) == 1

        await eventually(settled, timeout=60)
        elapsed = time.monotonic() - started
        throttled = metric(service, "ingestor_transient_failures_total", reason="alice_throttled")
    assert await outcomes(pg, [user_id]) == {"stored": 1}
    assert emulator.counts().status("user_report", 429) == 4
    assert throttled == 4
    assert elapsed >= 4 * 2.0


async def test_outage_opens_the_breaker_instead_of_hammering_alice(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    pg: asyncpg.Connection,
) -> None:
    """With USERS users pending and the report endpoint answering 503 for OUTAGE_S seconds,
    the service sends at most the breaker's threshold, the requests in flight when it opened
    and one probe per interval; then every user is stored and none dead-lettered."""
    users = int(os.environ.get("OUTAGE_TEST_USERS", "40"))
    outage_s = float(os.environ.get("OUTAGE_TEST_SECONDS", "8"))
    user_ids = [str(uuid.uuid4()) for _ in range(users)]
    for user_id in user_ids:
        emulator.create_user(user_id)
    settings = make_settings(
        transient_max_attempts=3,
        alice_max_concurrency=32,
        alice_breaker_failures=10,
        alice_breaker_probe_interval_s=1.0,
    )
    emulator.set_faults(error_rate=1.0, error_status=503, endpoints=("user_report",))
    async with running(settings) as service:
        await asyncio.gather(*(producer.send({"user_id": user_id}) for user_id in user_ids))
        started = time.monotonic()
        await asyncio.sleep(outage_s)  # the outage itself: what is measured happens meanwhile
        failed = emulator.counts().status("user_report", 503)
        emulator.clear_faults()
        outage = time.monotonic() - started
        opened = metric(service, "ingestor_alice_breaker_opened_total")

        async def all_settled() -> bool:
            return sum((await outcomes(pg, user_ids)).values()) == users

        await eventually(all_settled, timeout=90)
    per_user_per_s = failed / users / outage
    log.warning(
        "outage figure",
        users=users,
        outage_s=round(outage, 1),
        report_calls=failed,
        per_user_per_s=round(per_user_per_s, 4),
    )
    print(
        f"outage: {users} users, {outage:.1f} s, {failed} report calls, "
        f"{per_user_per_s:.4f} per pending user per second"
    )
    assert opened >= 1
    bound = (
        settings.alice_breaker_failures
        + settings.alice_max_concurrency
        + outage / settings.alice_breaker_probe_interval_s
        + 1
    )
    assert failed <= bound
    assert await outcomes(pg, user_ids) == {"stored": users}
