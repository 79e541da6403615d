"""The `/_emulator/` admin API drives the same state as the in-process methods."""

from __future__ import annotations

import httpx

from emulator import AliceEmulator
from tests.unit.emulator.conftest import backend_token, bearer, get_report


async def test_user_changes_over_http(
    emu: AliceEmulator, client: httpx.AsyncClient, user_id: str
) -> None:
    """State, document, score and event changes made over HTTP show in the next report."""
    base = f"/_emulator/users/{user_id}"
    created = await client.post("/_emulator/users", json={"user_ids": [user_id]})
    assert created.json() == {"created": 1}
    changed = await client.put(f"{base}/state", json={"state": "ACCEPTED"})
    assert changed.json() == {"user_id": user_id, "version": 2}
    await client.post(f"{base}/documents", json={"type": "driverlicense", "issuing_country": "FRA"})
    await client.put(f"{base}/scores", json={"liveness": 20.0})
    await client.post(f"{base}/events", json={"type": "manual_review"})
    report = (await get_report(client, user_id)).json()["report"]
    assert report["summary"]["state"]["value"] == "ACCEPTED"
    assert report["documents"][-1]["meta"]["type"] == "driverlicense"
    assert report["summary"]["result"]["selfie_security"] == "ko"
    assert report["events"][-1]["type"] == "manual_review"
    described = (await client.get(base)).json()
    assert (described["state"], described["version"]) == ("ACCEPTED", 5)
    assert (await client.delete(base)).status_code == 200
    assert (await get_report(client, user_id)).status_code == 404
    assert (await client.get(base)).status_code == 404


async def test_faults_and_counts_over_http(
    emu: AliceEmulator, client: httpx.AsyncClient, user_id: str
) -> None:
    """Scheduled faults, standing fault settings and counters work through the admin API."""
    headers = bearer(await backend_token(client, user_id))
    next_fault = {"count": 1, "status": 429, "retry_after_s": 3}
    assert (await client.post("/_emulator/faults/next", json=next_fault)).status_code == 200
    limited = await client.get("/user/report", headers=headers)
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "3")
    settings = await client.put("/_emulator/faults", json={"latency_ms": 5, "error_rate": 0})
    assert settings.json()["latency_ms"] == 5
    assert emu.faults.latency_ms == 5
    counts = (await client.get("/_emulator/counts")).json()
    assert counts["by_status"]["user_report"] == {"429": 1}
    await client.post("/_emulator/counts/reset")
    await client.delete("/_emulator/faults")
    assert emu.counts().total() == 0
    assert emu.faults.latency_ms == 0


async def test_tokens_clock_and_config_over_http(
    emu: AliceEmulator, client: httpx.AsyncClient, user_id: str
) -> None:
    """Revoking tokens, advancing the clock and turning off auto-creation work over HTTP."""
    headers = bearer(await backend_token(client, user_id))
    await client.post("/_emulator/tokens/revoke")
    assert (await client.get("/user/report", headers=headers)).status_code == 401
    headers = bearer(await backend_token(client, user_id))
    await client.post("/_emulator/clock/advance", json={"seconds": 4000})
    assert (await client.get("/user/report", headers=headers)).status_code == 401
    config = await client.put("/_emulator/config", json={"auto_create_users": False})
    assert config.json()["auto_create_users"] is False
    assert (await get_report(client, "00000000-0000-4000-8000-000000000000")).status_code == 404


async def test_bad_admin_requests_are_400(client: httpx.AsyncClient) -> None:
    """Unknown fault settings, unknown fault kinds and non-JSON bodies get 400, not 500."""
    assert (await client.put("/_emulator/faults", json={"bogus": 1})).status_code == 400
    bad_kind = {"count": 1, "kind": "meteor"}
    assert (await client.post("/_emulator/faults/next", json=bad_kind)).status_code == 400
    assert (await client.post("/_emulator/users", content=b"{nope")).status_code == 400
