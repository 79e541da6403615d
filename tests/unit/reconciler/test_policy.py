"""The reconciler's pure decisions: final states, the backoff, when the full report is fetched,
the deletion event, and the settings that configure them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from service.messages import USER_DELETED_UPSTREAM, deleted_upstream_event
from service.reconciler.policy import Backoff, is_final, needs_report, state_label
from service.settings import Settings

DEFAULT_STEPS_S = (60.0, 300.0, 1800.0, 21600.0, 86400.0)  # 1 min, 5 min, 30 min, 6 h, 1 day


@pytest.mark.parametrize(
    ("state", "final"),
    [
        ("ACCEPTED", True),
        ("REJECTED", True),
        ("TO_REVIEW", False),
        ("IN_PROGRESS", False),
        ("INPROGRESS", False),
        ("NOT_STARTED", False),
        ("ON_HOLD", False),  # a state Alice may add later is not known to be final
        (None, False),
    ],
)
def test_only_decisions_are_final(state: str | None, final: bool) -> None:
    """ACCEPTED and REJECTED end reconciliation; every other state, known or not, keeps it."""
    assert is_final(state) is final


def test_backoff_grows_while_nothing_changes_then_stays_daily() -> None:
    """After k unchanged checks the wait is the k-th step: 1 min, 5 min, 30 min, 6 h, 1 day,
    and a day from then on."""
    backoff = Backoff(DEFAULT_STEPS_S)
    waits = [backoff.delay(k) for k in range(8)]
    assert waits == [
        timedelta(minutes=1),
        timedelta(minutes=5),
        timedelta(minutes=30),
        timedelta(hours=6),
        timedelta(days=1),
        timedelta(days=1),
        timedelta(days=1),
        timedelta(days=1),
    ]
    now = datetime(2026, 12, 1, tzinfo=UTC)
    assert backoff.next_check(now, 2) == datetime(2026, 12, 1, 0, 30, tzinfo=UTC)


def test_full_report_on_a_state_change_or_every_nth_check() -> None:
    """The report is fetched when Alice's state differs from the stored one (aliases equal),
    and at every Nth check even when it does not."""
    same = {"stored_state": "TO_REVIEW", "alice_state": "TO_REVIEW", "full_report_every": 4}
    assert [needs_report(check_no=n, **same) for n in range(1, 9)] == [  # type: ignore[arg-type]
        False, False, False, True, False, False, False, True
    ]  # fmt: skip
    assert needs_report(
        stored_state="TO_REVIEW", alice_state="ACCEPTED", check_no=1, full_report_every=4
    )
    assert not needs_report(
        stored_state="IN_PROGRESS", alice_state="INPROGRESS", check_no=1, full_report_every=4
    )


def test_state_labels_are_bounded() -> None:
    """Metric labels name the known states only; anything else is `other`, a missing state
    `none`: no value Alice sends can grow the label set."""
    assert [state_label(s) for s in ("TO_REVIEW", "INPROGRESS", "X" * 40, None)] == [
        "TO_REVIEW",
        "IN_PROGRESS",
        "other",
        "none",
    ]


def test_deleted_upstream_event_has_a_deterministic_id() -> None:
    """The same user and last snapshot give the same event id whenever it is announced; a
    different last snapshot gives another."""
    user = "8d3c5a52-7f7e-4a7e-9a43-0c6c4cbd9f11"
    at = datetime(2026, 12, 1, tzinfo=UTC)
    first = deleted_upstream_event(
        user, report_id="r", last_state="TO_REVIEW", last_content_hash="ab", observed_at=at
    )
    again = deleted_upstream_event(
        user,
        report_id="r",
        last_state="TO_REVIEW",
        last_content_hash="ab",
        observed_at=at + timedelta(hours=1),
    )
    other = deleted_upstream_event(
        user, report_id="r", last_state="TO_REVIEW", last_content_hash="cd", observed_at=at
    )
    assert first.id == again.id != other.id
    assert first.type == USER_DELETED_UPSTREAM == "onboarding.user.deleted_upstream"
    assert first.data == {"user_id": user, "report_id": "r", "last_state": "TO_REVIEW"}


def test_backoff_steps_setting_reads_comma_separated_seconds() -> None:
    """RECONCILE_BACKOFF_S is comma-separated seconds; a step of zero or less is refused."""
    settings = Settings(alice_api_key="k", reconcile_backoff_s="1, 2.5,30")  # type: ignore[arg-type]
    assert settings.reconcile_backoff_s == (1.0, 2.5, 30.0)
    assert Settings(alice_api_key="k").reconcile_backoff_s == DEFAULT_STEPS_S  # type: ignore[arg-type]
    assert Settings(alice_api_key="k").reconcile_enabled is True  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        Settings(alice_api_key="k", reconcile_backoff_s="60,0")  # type: ignore[arg-type]
