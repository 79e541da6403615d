"""The history API's tokens and the answers it gives before reading anything (no database)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from service.crypto import DataKeys, Keyring
from service.crypto.keyring import new_kek_text, parse_keys
from service.errors import StorageUnavailable
from service.history.api import HistoryApi
from service.history.tokens import caller, parse_tokens
from service.settings import Settings

TOKEN = "s3cret-token-for-tests-0001"
TOKENS = parse_tokens(SecretStr(f"reviewer-tool:{TOKEN}, ops:another-token-of-length"))

KEYS = DataKeys(Keyring.of(parse_keys(new_kek_text("unit"))))


class NoDatabase:
    """A database the tested answers must never reach."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the database was used ({name})")


def test_tokens_are_named_and_checked() -> None:
    """`name:token` entries; a bearer header with a configured token names its caller, any
    other header (wrong token, prefix of one, other scheme, none) names nobody."""
    assert [t.name for t in TOKENS] == ["reviewer-tool", "ops"]
    assert caller(TOKENS, f"Bearer {TOKEN}") == "reviewer-tool"
    assert caller(TOKENS, "bearer another-token-of-length") == "ops"
    for header in (f"Bearer {TOKEN[:-1]}", f"Basic {TOKEN}", "Bearer ", "", None):
        assert caller(TOKENS, header) is None


def test_malformed_token_entries_are_refused_without_echo() -> None:
    """An entry without a name or with a short token is refused, and the message does not
    quote it."""
    with pytest.raises(ValueError, match="entry 2") as raised:
        parse_tokens(SecretStr(f"a:{TOKEN},short-secret"))
    assert "short-secret" not in str(raised.value)


def test_settings_refuse_an_api_port_without_tokens() -> None:
    """HISTORY_API_PORT set without tokens, or equal to HTTP_PORT, is a settings error; off by
    default."""
    assert Settings(alice_api_key=SecretStr("k")).history_api_port == 0
    with pytest.raises(ValidationError, match="HISTORY_API_TOKENS"):
        Settings(alice_api_key=SecretStr("k"), history_api_port=8081)
    with pytest.raises(ValidationError, match="differ from HTTP_PORT"):
        Settings(
            alice_api_key=SecretStr("k"),
            history_api_port=8080,
            history_api_tokens=SecretStr(f"a:{TOKEN}"),
        )


class DownDatabase:
    """A database that is unreachable (or, with `bug`, fails with an unexpected error)."""

    def __init__(self, *, bug: bool = False) -> None:
        self.bug = bug

    @asynccontextmanager
    async def transaction(self, *, write: bool = False) -> AsyncIterator[Any]:
        """Fail as the adapter does when PostgreSQL cannot be reached."""
        if self.bug:
            raise KeyError("CARMEN 99999999R")
        raise StorageUnavailable("connection refused")
        yield  # an async generator, as the real one


async def _get(
    path: str, headers: dict[str, str] | None = None, database: Any = None
) -> httpx.Response:
    app = HistoryApi(database=database or NoDatabase(), data_keys=KEYS, tokens=TOKENS)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://history") as client:
        return await client.get(path, headers=headers or {})


USER_PATH = "/v1/users/21800ed8-f71c-4ae6-b7fd-16300ca23ca1/history"
AUTH = {"authorization": f"Bearer {TOKEN}"}


async def test_no_token_is_401_on_every_path() -> None:
    """Without a valid token the answer is 401 with a Bearer challenge, for any path."""
    for path, headers in (
        (USER_PATH, {}),
        ("/nothing", {}),
        (USER_PATH, {"authorization": "Bearer x"}),
    ):
        response = await _get(path, headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"


async def test_bad_requests_are_refused_before_the_database() -> None:
    """A user id that is not a UUID and a reveal that is not a boolean are 400; an unknown
    path is 404: none reads the database."""
    assert (await _get("/v1/users/not-a-uuid/history", AUTH)).status_code == 400
    assert (await _get(USER_PATH + "?reveal=maybe", AUTH)).status_code == 400
    assert (await _get("/v1/users", AUTH)).status_code == 404


async def test_database_failures_answer_503_or_500_without_detail() -> None:
    """An unreachable database is 503 (try again); an unexpected error is 500, its message
    (which may quote data) in neither the body nor the headers."""
    down = await _get(USER_PATH, AUTH, DownDatabase())
    assert (down.status_code, down.json()) == (503, {"error": "storage_unavailable"})
    broken = await _get(USER_PATH, AUTH, DownDatabase(bug=True))
    assert (broken.status_code, broken.json()) == (500, {"error": "internal"})
    assert "CARMEN" not in broken.text
