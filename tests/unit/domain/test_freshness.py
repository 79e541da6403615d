"""Report ordering: which of two reports of one user is older, from the reports' own facts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from service.freshness import ReportOrder

T1 = datetime(2026, 3, 5, 10, 0, tzinfo=UTC)
T2 = datetime(2026, 3, 5, 11, 0, tzinfo=UTC)


def order(
    version: int | None = None,
    created_at: datetime | None = None,
    last_event_at: datetime | None = None,
    events: int | None = None,
) -> ReportOrder:
    """Facts of a report, unset ones unknown."""
    return ReportOrder(version, created_at, last_event_at, events)


@pytest.mark.parametrize(
    ("incoming", "stored", "older"),
    [
        (order(version=1), order(version=2), True),
        (order(version=3), order(version=2), False),
        (order(created_at=T1), order(created_at=T2), True),
        (order(created_at=T2), order(created_at=T1), False),
        (order(last_event_at=T1, events=5), order(last_event_at=T2, events=4), True),
        (order(last_event_at=T2, events=5), order(last_event_at=T2, events=6), True),
        (order(last_event_at=T2, events=6), order(last_event_at=T2, events=6), False),
        # the first differing fact decides, even when a later one disagrees
        (order(version=2, created_at=T1), order(version=1, created_at=T2), False),
        (order(version=1, events=9), order(version=2, events=3), True),
        # a fact only one side has is no evidence
        (order(version=None, created_at=T1), order(version=7, created_at=T2), True),
        (order(version=1), order(created_at=T2), False),
        (order(), order(version=2, created_at=T2, last_event_at=T2, events=3), False),
    ],
)
def test_the_first_fact_both_have_that_differs_decides(
    incoming: ReportOrder, stored: ReportOrder, older: bool
) -> None:
    """Version, then created_at, then the newest event time, then the event count decide."""
    assert incoming.older_than(stored) is older


def test_nothing_stored_is_never_newer() -> None:
    """A user's first report is never older than nothing."""
    assert order(version=1).older_than(None) is False


@pytest.mark.parametrize(
    ("incoming", "stored", "older"),
    [
        ("TO_REVIEW", "ACCEPTED", True),
        ("TO_REVIEW", "REJECTED", True),
        ("INPROGRESS", "TO_REVIEW", True),
        ("ACCEPTED", "TO_REVIEW", False),
        # two decisions, an unknown state or a missing one are no evidence: fetch order
        ("REJECTED", "ACCEPTED", False),
        ("ACCEPTED", "REJECTED", False),
        ("ON_HOLD", "ACCEPTED", False),
        ("TO_REVIEW", None, False),
    ],
)
def test_on_a_tie_of_every_fact_a_state_earlier_in_the_lifecycle_is_older(
    incoming: str, stored: str | None, older: bool
) -> None:
    """A decision adds no fact, so a report tied on all facts is older when its state is earlier."""
    facts = (1, T1, T2, 8)
    mine, theirs = ReportOrder(*facts, state=incoming), ReportOrder(*facts, state=stored)
    assert mine.older_than(theirs) is older


def test_a_fact_that_differs_outranks_the_state() -> None:
    """A report with a newer event is newer even if its state is earlier (a reopened review)."""
    reopened = ReportOrder(1, T1, T2, 9, state="TO_REVIEW")
    decided = ReportOrder(1, T1, T1, 8, state="ACCEPTED")
    assert reopened.older_than(decided) is False
    assert decided.older_than(reopened) is True
