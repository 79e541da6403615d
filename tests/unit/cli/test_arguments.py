"""Bad arguments and settings end with exit code 2 and a clear message, before any I/O."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.cli import main
from service.tools.common import ALICE_KEY_PLACEHOLDER, ToolFailed, load_settings


def _exit_code(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as raised:
        main(argv)
    return int(raised.value.code or 0)


@pytest.mark.parametrize(
    "argv",
    [
        ["no-such-command"],
        ["backfill"],
        ["backfill", "--file"],
        ["replay-dlq", "--limit", "0"],
        ["replay-dlq", "--limit", "many"],
        ["replay-dlq", "--since", "yesterday"],
        ["check-config", "--unknown"],
    ],
)
def test_bad_arguments_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    """Missing, malformed or unknown arguments make argparse print usage and exit 2."""
    assert _exit_code(argv) == 2
    assert "usage:" in capsys.readouterr().err


def test_missing_backfill_file_exits_2_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A backfill file that does not exist is an argument error that names the path."""
    missing = tmp_path / "absent.txt"
    assert _exit_code(["backfill", "--file", str(missing)]) == 2
    assert f"no such file: {missing}" in capsys.readouterr().err


def test_tools_run_without_alice_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """Kafka-only tools get a placeholder Alice key when ALICE_API_KEY is missing."""
    monkeypatch.delenv("ALICE_API_KEY", raising=False)
    settings = load_settings(need_alice=False)
    assert settings.alice_api_key.get_secret_value() == ALICE_KEY_PLACEHOLDER


def test_invalid_settings_list_env_names_never_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """Invalid settings fail with exit 2, named as environment variables, without the values."""
    monkeypatch.setenv("DATABASE_URL", "mysql://admin:hunter2secret@db/app")
    monkeypatch.setenv("KAFKA_MAX_POLL_RECORDS", "0")
    monkeypatch.delenv("ALICE_API_KEY", raising=False)
    with pytest.raises(ToolFailed) as raised:
        load_settings(need_alice=True)
    assert raised.value.code == 2
    message = raised.value.message
    for name in ("DATABASE_URL", "KAFKA_MAX_POLL_RECORDS", "ALICE_API_KEY"):
        assert name in message
    assert "hunter2secret" not in message


def test_check_config_exits_2_on_invalid_settings(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """check-config with a missing ALICE_API_KEY exits 2 and says which setting is missing."""
    monkeypatch.delenv("ALICE_API_KEY", raising=False)
    assert main(["check-config"]) == 2
    assert "ALICE_API_KEY: Field required" in capsys.readouterr().err
