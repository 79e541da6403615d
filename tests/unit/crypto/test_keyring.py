"""The key-encryption keys: parsing ENCRYPTION_KEYS, wrapping data keys under the newest one,
unwrapping under any listed one, and refusing production without a key."""

from __future__ import annotations

import base64
import os

import pytest
from pydantic import SecretStr, ValidationError

from service.crypto.datakeys import DataKeys
from service.crypto.keyring import DEVELOPMENT_KEK_ID, Keyring, KeysMissing, parse_keys
from service.errors import UnreadableData
from service.settings import Settings

USER = "3f0c1d8e-6a55-4c1e-9d3e-0b7f1a2c4d5e"
OTHER_USER = "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"


def _entry(key_id: str, key: bytes | None = None) -> str:
    return f"{key_id}:{base64.b64encode(key or os.urandom(32)).decode()}"


def _settings(**values: object) -> Settings:
    return Settings(alice_api_key="k", **values)  # type: ignore[arg-type]


def test_the_last_listed_kek_wraps_and_every_listed_one_unwraps() -> None:
    """A key wrapped under k1 still unwraps once k2 is added; new wraps carry k2's id."""
    k1 = _entry("k1")
    data_key = os.urandom(32)
    kek_id, wrapped = Keyring.of(parse_keys(k1)).wrap(USER, data_key)
    assert kek_id == "k1"
    both = Keyring.of(parse_keys(f"{k1},{_entry('k2')}"))
    assert both.active_id == "k2"
    assert both.unwrap(USER, "k1", wrapped) == data_key
    assert both.wrap(USER, data_key)[0] == "k2"


def test_a_wrapped_key_does_not_unwrap_for_another_user_or_kek_id() -> None:
    """The user id and the KEK id are associated data of the wrapping."""
    keyring = Keyring.of(parse_keys(f"{_entry('k1')},{_entry('k2')}"))
    kek_id, wrapped = keyring.wrap(USER, os.urandom(32))
    with pytest.raises(UnreadableData):
        keyring.unwrap(OTHER_USER, kek_id, wrapped)
    with pytest.raises(UnreadableData):
        keyring.unwrap(USER, "k1", wrapped)


def test_a_wrong_or_missing_kek_cannot_unwrap() -> None:
    """Another KEK under the same id, or an id not configured, raises UnreadableData."""
    kek_id, wrapped = Keyring.of(parse_keys(_entry("k1"))).wrap(USER, os.urandom(32))
    with pytest.raises(UnreadableData):
        Keyring.of(parse_keys(_entry("k1"))).unwrap(USER, kek_id, wrapped)
    with pytest.raises(UnreadableData):
        Keyring.of(parse_keys(_entry("k9"))).unwrap(USER, kek_id, wrapped)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("k1", "id:base64"),
        ("k1:not base64!", "not base64"),
        (f"k1:{base64.b64encode(os.urandom(16)).decode()}", "not 32 bytes"),
        (f"{_entry('k1')},{_entry('k1')}", "listed twice"),
        ("bad id:AAAA", "id:base64"),
    ],
)
def test_malformed_encryption_keys_are_refused_without_echoing_a_key(
    text: str, problem: str
) -> None:
    """ENCRYPTION_KEYS that do not parse fail the settings, naming the problem, never a key."""
    with pytest.raises(ValidationError) as raised:
        _settings(encryption_keys=text)
    message = str(raised.value)
    assert problem in message
    for part in text.split(","):
        secret = part.partition(":")[2]
        if len(secret) > 8:
            assert secret not in message


def test_production_without_a_key_refuses_to_start() -> None:
    """ENVIRONMENT=production (the default) with no ENCRYPTION_KEYS raises KeysMissing."""
    settings = _settings()
    assert settings.environment == "production"
    with pytest.raises(KeysMissing):
        Keyring.from_settings(settings)


def test_production_refuses_the_development_key() -> None:
    """The public development KEK listed explicitly is refused in production too."""
    settings = _settings(encryption_keys=_entry(DEVELOPMENT_KEK_ID))
    with pytest.raises(KeysMissing):
        Keyring.from_settings(settings)


def test_development_without_a_key_uses_the_development_kek(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """ENVIRONMENT=development with no key runs with the development KEK and warns."""
    keyring = Keyring.from_settings(_settings(environment="development"))
    assert keyring.active_id == DEVELOPMENT_KEK_ID
    assert "NO ENCRYPTION_KEYS" in capsys.readouterr().out


def test_configured_keys_are_used_and_stay_secret() -> None:
    """With ENCRYPTION_KEYS set, the last id is active and the setting does not print."""
    text = f"{_entry('k1')},{_entry('k2')}"
    settings = _settings(encryption_keys=text)
    assert isinstance(settings.encryption_keys, SecretStr)
    assert text not in repr(settings)
    assert Keyring.from_settings(settings).active_id == "k2"


def test_the_data_key_cache_is_bounded_and_checks_the_wrapped_bytes() -> None:
    """Unwrapped keys are cached per user up to the bound (least recently used out), and a
    re-wrapped key (other bytes) is unwrapped again, not served from the cache."""
    keyring = Keyring.of(parse_keys(_entry("k1")))
    keys = DataKeys(keyring, cache_size=2)
    users = [f"00000000-0000-4000-8000-00000000000{n}" for n in range(3)]
    wrapped = {u: keyring.wrap(u, os.urandom(32)) for u in users}
    first = keys.cipher(users[0], wrapped[users[0]])
    assert keys.cipher(users[0], wrapped[users[0]]) is first
    keys.cipher(users[1], wrapped[users[1]])
    keys.cipher(users[2], wrapped[users[2]])
    assert keys.cipher(users[0], wrapped[users[0]]) is not first  # evicted, unwrapped again
    again = keyring.wrap(users[2], keyring.unwrap(users[2], *wrapped[users[2]]))
    assert keys.cipher(users[2], again) is not keys.cipher(users[2], wrapped[users[2]])


def test_the_run_command_exits_2_in_production_without_a_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`python -m service run` with ENVIRONMENT=production and no ENCRYPTION_KEYS exits with
    code 2 and says why, before connecting to anything."""
    from service.cli import main  # noqa: PLC0415

    monkeypatch.setenv("ALICE_API_KEY", "k")
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.delenv("ENCRYPTION_KEYS", raising=False)
    assert main(["run"]) == 2
    assert "ENCRYPTION_KEYS is required in production" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["rotate-keys"],
        ["export", "3f0c1d8e-6a55-4c1e-9d3e-0b7f1a2c4d5e"],
        ["erase", "3f0c1d8e-6a55-4c1e-9d3e-0b7f1a2c4d5e"],
    ],
)
def test_the_key_tools_exit_2_in_production_without_a_key(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """rotate-keys, export and erase refuse to run (exit 2) in production without a KEK, before
    touching the database."""
    from service.cli import main  # noqa: PLC0415

    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.delenv("ENCRYPTION_KEYS", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    assert main(argv) == 2
    assert "ENCRYPTION_KEYS is required in production" in capsys.readouterr().err
