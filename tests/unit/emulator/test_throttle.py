"""The emulator's rate-limit mode: 429 with Retry-After above N API requests in a 1 s window."""

from __future__ import annotations

import signal

import httpx

from emulator import AliceEmulator
from emulator.throttle import Throttle
from tests.unit.emulator.conftest import API_KEY
from tests.unit.emulator.test_cli import _start


class FrozenClock:
    """A POSIX clock that moves only when told."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_throttle_admits_n_per_window_then_asks_to_retry_at_the_next_one() -> None:
    """With a limit of 3, the 4th request of a second gets the seconds left in it; the next
    second admits again; the timeline counts every request of each second."""
    clock = FrozenClock(100.2)
    throttle = Throttle(limit_per_s=3, clock=clock)
    assert [throttle.admit() for _ in range(4)] == [None, None, None, 1]
    clock.now = 101.0
    assert throttle.admit() is None
    assert throttle.timeline() == [
        {"second": 100, "received": 4, "admitted": 3, "throttled": 1},
        {"second": 101, "received": 1, "admitted": 1, "throttled": 0},
    ]
    throttle.set_limit(None)
    assert all(throttle.admit() is None for _ in range(10))


async def test_rate_limit_over_the_admin_api(emu: AliceEmulator, client: httpx.AsyncClient) -> None:
    """`PUT /_emulator/rate-limit` makes the API answer 429 with Retry-After above the limit,
    healthchecks are exempt, and `GET /_emulator/rate` reports the window's counts."""
    emu.throttle = Throttle(clock=FrozenClock(5000.25))
    assert (await client.put("/_emulator/rate-limit", json={"per_s": 2})).json() == {
        "limit_per_s": 2
    }
    statuses = []
    for _ in range(3):
        answer = await client.get("/login_token", headers={"apikey": API_KEY})
        statuses.append((answer.status_code, answer.headers.get("Retry-After")))
    assert statuses == [(200, None), (200, None), (429, "1")]
    assert (await client.get("/healthcheck")).status_code == 200
    rate = (await client.get("/_emulator/rate")).json()
    assert rate == {
        "limit_per_s": 2,
        "windows": [{"second": 5000, "received": 3, "admitted": 2, "throttled": 1}],
    }
    assert emu.counts().status("login_token", 429) == 1
    await client.put("/_emulator/rate-limit", json={"per_s": None})
    assert (await client.get("/login_token", headers={"apikey": API_KEY})).status_code == 200


def test_rate_limit_cli_flag() -> None:
    """`--rate-limit-per-s 1` starts the emulator with the limit on: of three quick requests
    (at most two windows), at least one is answered 429."""
    process, url = _start("--rate-limit-per-s", "1")
    try:
        assert httpx.get(f"{url}/_emulator/rate").json()["limit_per_s"] == 1
        statuses = [
            httpx.get(f"{url}/login_token", headers={"apikey": "cli-key"}).status_code
            for _ in range(3)
        ]
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=10)
    assert 429 in statuses
    assert set(statuses) <= {200, 429}
