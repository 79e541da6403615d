"""The token chain: API key -> login token -> backend token -> report, and its refusals."""

from __future__ import annotations

import asyncio
import time

import httpx
import jwt

from emulator import AliceEmulator
from tests.unit.emulator.conftest import backend_token, bearer


async def test_chain_gives_a_report(client: httpx.AsyncClient, user_id: str) -> None:
    """A good API key leads to a backend token that fetches the user's report."""
    token = await backend_token(client, user_id)
    response = await client.get("/user/report", headers=bearer(token))
    assert response.status_code == 200
    assert response.json()["report"]["user_id"] == user_id


async def test_backend_token_claims(client: httpx.AsyncClient, user_id: str) -> None:
    """The backend token is an HS256 JWT carrying user_id, iat and an exp one TTL ahead."""
    token = await backend_token(client, user_id)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["user_id"] == user_id
    assert 3599 <= claims["exp"] - time.time() <= 3601
    assert claims["iat"] <= time.time()


async def test_bad_or_missing_api_key_is_401(client: httpx.AsyncClient) -> None:
    """A wrong or missing `apikey` header gets 401 with a detail body."""
    wrong = await client.get("/login_token", headers={"apikey": "nope"})
    missing = await client.get("/login_token")
    assert (wrong.status_code, missing.status_code) == (401, 401)
    assert "detail" in wrong.json()


async def test_bad_tokens_are_401(client: httpx.AsyncClient, user_id: str) -> None:
    """Missing, forged and wrong-kind tokens are refused on both token-protected steps."""
    login = (await client.get("/login_token", headers={"apikey": "test-key"})).json()["token"]
    forged = jwt.encode({"exp": time.time() + 60, "iat": 0, "user_id": user_id}, "x" * 32)
    assert (await client.get(f"/backend_token/{user_id}")).status_code == 401
    assert (await client.get("/user/report", headers=bearer(forged))).status_code == 401
    assert (await client.get("/user/report", headers=bearer(login))).status_code == 401
    assert (
        await client.get("/user/report", headers={"Alice-Report-Version": "1"})
    ).status_code == 401


async def test_advanced_clock_expires_tokens(
    emu: AliceEmulator, client: httpx.AsyncClient, user_id: str
) -> None:
    """Moving the emulator clock past `exp` makes the token 401; a new one works."""
    token = await backend_token(client, user_id)
    emu.advance_clock(3601)
    assert (await client.get("/user/report", headers=bearer(token))).status_code == 401
    fresh = await backend_token(client, user_id)
    assert (await client.get("/user/report", headers=bearer(fresh))).status_code == 200


async def test_short_ttl_expires_in_real_time(
    emu: AliceEmulator, client: httpx.AsyncClient, user_id: str
) -> None:
    """With a 1 s TTL a token works until its `exp` and is refused from then on."""
    emu.token_ttl_s = 1
    token = await backend_token(client, user_id)
    assert (await client.get("/user/report", headers=bearer(token))).status_code == 200
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    await asyncio.sleep(max(0.0, exp - time.time()) + 0.05)
    assert (await client.get("/user/report", headers=bearer(token))).status_code == 401


async def test_revoke_tokens(emu: AliceEmulator, client: httpx.AsyncClient, user_id: str) -> None:
    """After `revoke_tokens` every issued token is 401 and a refreshed one is accepted."""
    token = await backend_token(client, user_id)
    emu.revoke_tokens()
    assert (await client.get("/user/report", headers=bearer(token))).status_code == 401
    assert (await client.get("/user/state", headers=bearer(token))).status_code == 401
    fresh = await backend_token(client, user_id)
    assert (await client.get("/user/report", headers=bearer(fresh))).status_code == 200
    assert emu.counts().status("user_report", 401) == 1


async def test_state_and_health(client: httpx.AsyncClient, user_id: str) -> None:
    """`/user/state` is a bare JSON string and `/healthcheck` is 200 without a token."""
    state = await client.get("/user/state", headers=bearer(await backend_token(client, user_id)))
    assert state.json() == "TO_REVIEW"
    assert (await client.get("/healthcheck")).status_code == 200
