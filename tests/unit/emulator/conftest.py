"""Fixtures: a running emulator on a free port and an httpx client that walks the token chain."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from emulator import AliceEmulator

API_KEY = "test-key"


@pytest.fixture
async def emu() -> AsyncIterator[AliceEmulator]:
    """A fresh emulator serving on 127.0.0.1 at a free port."""
    emulator = AliceEmulator(api_key=API_KEY, token_ttl_s=3600, seed=0)
    await emulator.start(host="127.0.0.1", port=0)
    yield emulator
    await emulator.stop()


@pytest.fixture
async def client(emu: AliceEmulator) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client whose base URL is the emulator's."""
    async with httpx.AsyncClient(base_url=emu.base_url, timeout=10) as http:
        yield http


@pytest.fixture
def user_id() -> str:
    """A new user id (a UUID) per test."""
    return str(uuid.uuid4())


async def backend_token(http: httpx.AsyncClient, user_id: str, api_key: str = API_KEY) -> str:
    """Walk the chain: API key -> login token -> backend token for `user_id`."""
    login = await http.get("/login_token", headers={"apikey": api_key})
    login.raise_for_status()
    backend = await http.get(
        f"/backend_token/{user_id}", headers={"Authorization": f"Bearer {login.json()['token']}"}
    )
    backend.raise_for_status()
    token: str = backend.json()["token"]
    return token


def bearer(token: str) -> dict[str, str]:
    """Headers of a report call with `token`."""
    return {"Authorization": f"Bearer {token}", "Alice-Report-Version": "1"}


async def get_report(http: httpx.AsyncClient, user_id: str) -> httpx.Response:
    """`GET /user/report` for `user_id` with a fresh backend token."""
    return await http.get("/user/report", headers=bearer(await backend_token(http, user_id)))
