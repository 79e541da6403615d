"""The history API's server: serves on its own port until stopped; a taken port fails start."""

from __future__ import annotations

import socket

import httpx
import pytest

from service.crypto import DataKeys, Keyring
from service.crypto.keyring import new_kek_text, parse_keys
from service.history.api import HistoryApi
from service.history.server import HistoryServer
from tests.unit.history.test_api import TOKENS, NoDatabase

KEYS = DataKeys(Keyring.of(parse_keys(new_kek_text("unit"))))


def _app() -> HistoryApi:
    return HistoryApi(database=NoDatabase(), data_keys=KEYS, tokens=TOKENS)  # type: ignore[arg-type]


async def test_serves_until_stopped() -> None:
    """Started on a free loopback port it answers (401 without a token); stopped, it refuses."""
    server = HistoryServer(_app(), host="127.0.0.1", port=0)
    await server.start()
    url = f"http://127.0.0.1:{server.port}/v1/users/x/history"
    async with httpx.AsyncClient(timeout=10) as http:
        assert (await http.get(url)).status_code == 401
        await server.stop()
        with pytest.raises(httpx.ConnectError):
            await http.get(url)


async def test_a_taken_port_fails_start() -> None:
    """A port another socket listens on makes start raise OSError (not exit the process)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = HistoryServer(_app(), host="127.0.0.1", port=taken.getsockname()[1])
        with pytest.raises(OSError, match="in use"):
            await server.start()
