"""Fault injection: scheduled and random failures, spoiled bodies, latency, and counters."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from emulator import AliceEmulator, Faults
from tests.unit.emulator.conftest import backend_token, bearer


async def test_fail_next_then_recover(
    emu: AliceEmulator, client: httpx.AsyncClient, user_id: str
) -> None:
    """`fail_next(2, 503)` fails exactly the next two report calls; counters record each."""
    headers = bearer(await backend_token(client, user_id))
    emu.fail_next(2, 503)
    statuses = [(await client.get("/user/report", headers=headers)).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    counts = emu.counts()
    assert counts["user_report"] == 3
    assert (counts.status("user_report", 503), counts.status("user_report", 200)) == (2, 1)
    assert counts["login_token"] == counts["backend_token"] == 1


async def test_fail_next_only_hits_its_endpoint(
    emu: AliceEmulator, client: httpx.AsyncClient, user_id: str
) -> None:
    """A fault for `user_report` spares the token calls; one with `endpoint=None` does not."""
    emu.fail_next(1, 500)
    token = await backend_token(client, user_id)
    assert (await client.get("/user/report", headers=bearer(token))).status_code == 500
    emu.fail_next(1, 502, endpoint=None)
    assert (await client.get("/login_token", headers={"apikey": "test-key"})).status_code == 502


async def test_429_carries_retry_after(
    emu: AliceEmulator, client: httpx.AsyncClient, user_id: str
) -> None:
    """A scheduled 429 carries the requested `Retry-After` header and a detail body."""
    headers = bearer(await backend_token(client, user_id))
    emu.fail_next(1, 429, retry_after_s=7)
    response = await client.get("/user/report", headers=headers)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert "detail" in response.json()


async def test_invalid_json_body(
    emu: AliceEmulator, client: httpx.AsyncClient, user_id: str
) -> None:
    """An `invalid_json` fault answers 200 with a body that is not valid JSON."""
    headers = bearer(await backend_token(client, user_id))
    emu.fault_next(1, "invalid_json")
    response = await client.get("/user/report", headers=headers)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.content)


async def test_oversized_body_is_valid_json(
    emu: AliceEmulator, client: httpx.AsyncClient, user_id: str
) -> None:
    """An `oversized` fault answers about 10 MB of valid JSON that still holds the report."""
    headers = bearer(await backend_token(client, user_id))
    emu.fault_next(1, "oversized")
    response = await client.get("/user/report", headers=headers)
    assert 10 * 1024 * 1024 - 100 <= len(response.content) <= 10 * 1024 * 1024 + 100
    assert response.json()["report"]["user_id"] == user_id


async def test_connection_reset(
    emu: AliceEmulator, client: httpx.AsyncClient, user_id: str
) -> None:
    """A `reset` fault aborts the connection: the client gets a transport error, no response."""
    headers = bearer(await backend_token(client, user_id))
    emu.fault_next(1, "reset")
    with pytest.raises(httpx.TransportError):
        await client.get("/user/report", headers=headers)
    assert emu.counts().status("user_report", "reset") == 1
    assert (await client.get("/user/report", headers=headers)).status_code == 200


async def test_slow_body_and_latency(
    emu: AliceEmulator, client: httpx.AsyncClient, user_id: str
) -> None:
    """Latency delays every call; a `slow` fault delays the body after the headers are sent."""
    headers = bearer(await backend_token(client, user_id))
    emu.set_faults(latency_ms=100)
    started = time.perf_counter()
    assert (await client.get("/user/report", headers=headers)).status_code == 200
    assert time.perf_counter() - started >= 0.1
    emu.clear_faults()
    emu.fault_next(1, "slow", delay_ms=300)
    with pytest.raises(httpx.ReadTimeout):
        await client.get("/user/report", headers=headers, timeout=httpx.Timeout(5, read=0.1))


async def test_rates_are_reproducible(client: httpx.AsyncClient, user_id: str) -> None:
    """Random 503 and 429 rates give the same status sequence for the same seed."""
    sequences = []
    for _ in range(2):
        emu = AliceEmulator(api_key="test-key", seed=42)
        emu.set_faults(Faults(error_rate=0.3, rate_limit_rate=0.2, endpoints=("user_report",)))
        async with emu, httpx.AsyncClient(base_url=emu.base_url) as http:
            headers = bearer(await backend_token(http, user_id))
            sequence = [
                (await http.get("/user/report", headers=headers)).status_code for _ in range(30)
            ]
        sequences.append(sequence)
    assert sequences[0] == sequences[1]
    assert {200, 429, 503} <= set(sequences[0])


async def test_reset_counts(emu: AliceEmulator, client: httpx.AsyncClient) -> None:
    """`reset_counts` zeroes the counters; the health check is counted but never faulty."""
    emu.fail_next(5, 503, endpoint=None)
    assert (await client.get("/healthcheck")).status_code == 200
    assert emu.counts().status("healthcheck", 200) == 1
    emu.reset_counts()
    assert emu.counts().total() == 0


def test_fault_settings_are_validated() -> None:
    """Rates outside 0..1 and unknown endpoint names are refused up front."""
    emu = AliceEmulator()
    with pytest.raises(ValueError, match="between 0 and 1"):
        emu.set_faults(error_rate=1.5)
    with pytest.raises(ValueError, match="unknown endpoints"):
        emu.fail_next(1, 503, endpoint="user/report")
    assert emu.faults == Faults()
