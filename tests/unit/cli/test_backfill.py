"""Reading user-id lists and the dry run of `backfill`."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.cli import main
from service.tools.backfill import backfill_event, parse_user_ids

A = "6f1f0c2e-8d1b-4b8e-9a55-2f4c1d3b9e01"
B = "0b7e3a4c-1f2d-4e5f-8a9b-0c1d2e3f4a5b"


def test_invalid_lines_are_reported_with_line_numbers() -> None:
    """Blank and comment lines are skipped; each non-UUID line is reported by its number."""
    lines = ["# users to backfill", A, "", "not-a-uuid", f"  {B.upper()}  # trailing note", "42"]
    ids = parse_user_ids(lines)
    assert ids.valid == [A, B]
    assert [number for number, _ in ids.invalid] == [4, 6]
    assert "'not-a-uuid' is not a UUID" in ids.invalid[0][1]


def test_duplicates_are_published_once() -> None:
    """The same user listed twice (in any spelling) yields one event."""
    ids = parse_user_ids([A, A.upper(), "{" + A + "}"])
    assert ids.valid == [A]
    assert ids.duplicates == 2


def test_backfill_event_shape() -> None:
    """A backfill event carries the user id, a run-scoped event id and an aware UTC time."""
    now = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert backfill_event(A, "run-1", now) == {
        "user_id": A,
        "event_id": f"backfill:{A}:run-1",
        "occurred_at": "2025-01-02T03:04:05+00:00",
    }


def test_dry_run_prints_each_event_and_a_summary(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A dry run publishes nothing and prints one line per event plus a summary line."""
    users = tmp_path / "users.txt"
    users.write_text(f"{A}\n\n# comment\n{B}\n")
    code = main(
        ["backfill", "--file", str(users), "--topic", "t.in", "--run-id", "r1", "--dry-run"]
    )
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert out == [
        f"would publish user_id={A} event_id=backfill:{A}:r1",
        f"would publish user_id={B} event_id=backfill:{B}:r1",
        "dry run: would publish 2 event(s) to t.in, run id r1, "
        "0 invalid line(s) skipped, 0 duplicate(s) skipped",
    ]


def test_invalid_lines_fail_the_run_unless_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Invalid lines exit 1 before publishing; --skip-invalid goes on with the valid ids."""
    users = tmp_path / "users.txt"
    users.write_text(f"{A}\nbogus\n")
    assert main(["backfill", "--file", str(users), "--dry-run"]) == 1
    failed = capsys.readouterr()
    assert "line 2: 'bogus' is not a UUID" in failed.err
    assert "would publish" not in failed.out

    assert main(["backfill", "--file", str(users), "--dry-run", "--skip-invalid"]) == 0
    skipped = capsys.readouterr()
    assert "line 2: 'bogus' is not a UUID" in skipped.err
    assert "1 event(s)" in skipped.out
    assert "1 invalid line(s) skipped" in skipped.out


def test_stdin_is_read_with_dash(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--file -` reads the user ids from standard input."""
    user = str(uuid.uuid4())
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{user}\n"))
    assert main(["backfill", "--file", "-", "--dry-run", "--run-id", "x"]) == 0
    assert f"user_id={user}" in capsys.readouterr().out
    sent = json.loads(json.dumps(backfill_event(user, "x", datetime.now(UTC))))
    assert sent["user_id"] == user
    assert sent["event_id"] == f"backfill:{user}:x"  # the run id makes a re-run a new event
