"""A backfill against an Alice that answers 429 above N requests a second: with
ALICE_MAX_REQUESTS_PER_S = N the service stays within N, measured at the emulator (a separate
process, as Alice is), and dead-letters nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import urllib.request
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from service.budget.bucket import BURST_S
from tests.integration.pipeline.conftest import (
    API_KEY,
    Producer,
    SettingsFactory,
    eventually,
    running,
)
from tests.integration.pipeline.test_throttling import outcomes

RATE = int(os.environ.get("RATE_TEST_PER_S", "40"))
EVENTS = int(os.environ.get("RATE_TEST_EVENTS", "500"))  # two per user


def _admin(base_url: str, path: str, method: str = "GET") -> Any:
    request = urllib.request.Request(f"{base_url}/_emulator/{path}", method=method)  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
        return json.loads(answer.read())


@pytest.fixture
async def throttling_alice(tmp_path: Path) -> AsyncIterator[tuple[str, list[str]]]:
    """`python -m emulator --rate-limit-per-s RATE` with the users' reports pre-generated;
    yields its base URL and the user ids; stopped by SIGTERM afterwards."""
    user_ids = [str(uuid.uuid4()) for _ in range(EVENTS // 2)]
    users_file = tmp_path / "users.txt"
    users_file.write_text("\n".join(user_ids) + "\n")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *("-m", "emulator", "--port", "0", "--api-key", API_KEY),
        *("--rate-limit-per-s", str(RATE), "--pregenerate-file", str(users_file)),
        *("--max-lifetime-s", "900"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        line = await asyncio.wait_for(process.stdout.readline(), timeout=120 + EVENTS / 20)
        assert line.startswith(b"http"), "the emulator did not start"
        yield line.decode().strip(), user_ids
    finally:
        process.send_signal(signal.SIGTERM)
        await asyncio.wait_for(process.wait(), timeout=30)


async def test_backfill_stays_within_the_rate_and_dead_letters_nothing(
    make_settings: SettingsFactory,
    throttling_alice: tuple[str, list[str]],
    producer: Producer,
    pg: asyncpg.Connection,
) -> None:
    """EVENTS events (two per user) against an emulator that answers 429 above RATE requests
    a second, with ALICE_MAX_REQUESTS_PER_S = RATE: every event is stored or unchanged, none
    dead-lettered, and no 1 s window at the emulator holds more than RATE plus the bucket's
    burst."""
    base_url, user_ids = throttling_alice
    settings = make_settings(
        alice_api_url=base_url,
        alice_max_requests_per_s=RATE,
        alice_retry_attempts=4,
        transient_max_attempts=3,
    )
    _admin(base_url, "counts/reset", method="POST")
    sends = [producer.send({"user_id": user_id}) for user_id in user_ids for _ in range(2)]
    await asyncio.gather(*sends)
    async with running(settings):

        async def all_settled() -> bool:
            return sum((await outcomes(pg, user_ids)).values()) == EVENTS

        try:
            await eventually(all_settled, timeout=120 + 10 * EVENTS / RATE)
        finally:
            windows = _admin(base_url, "rate")["windows"]
            counts = _admin(base_url, "counts")
            received = [w["received"] for w in windows] or [0]
            throttled = sum(w["throttled"] for w in windows)
            settled = await outcomes(pg, user_ids)
            print(
                f"rate budget: {EVENTS} events ({settled}), {sum(received)} API requests in "
                f"{len(windows)} s, max {max(received)}/s (limit {RATE}), {throttled} answered "
                f"429; by status {counts['by_status']}"
            )
    found = await outcomes(pg, user_ids)
    assert set(found) <= {"stored", "unchanged"}
    assert sum(found.values()) == EVENTS
    assert max(received) <= RATE + max(1.0, RATE * BURST_S)
