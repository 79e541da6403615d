"""The replay tool's filters and its dry-run output, on dead letters built in memory."""

from __future__ import annotations

from datetime import UTC, datetime

from service.messages import DLQ_HEADERS, dead_letter_headers
from service.tools.dead_letters import DeadLetter, Filters, dry_run_lines

USER = "6f1f0c2e-8d1b-4b8e-9a55-2f4c1d3b9e01"
ORIGINAL = [("ce_id", b"evt-1"), ("traceparent", b"00-abc-def-01")]


def _letter(
    offset: int, error_class: str, failed_at: datetime, key: str | None = USER
) -> DeadLetter:
    headers = dead_letter_headers(
        ORIGINAL,
        error_class=error_class,
        reason="why",
        topic="in",
        partition=0,
        offset=offset,
        attempts=1,
        failed_at=failed_at,
    )
    value = b'{"user_id": "' + USER.encode() + b'", "secret": "do-not-print"}'
    return DeadLetter(
        topic="dlq",
        partition=1,
        offset=offset,
        key=key.encode() if key else None,
        value=value,
        headers=tuple(headers),
    )


EARLY = datetime(2025, 1, 1, tzinfo=UTC)
LATE = datetime(2025, 6, 1, tzinfo=UTC)


def test_original_headers_drop_only_dead_letter_ones() -> None:
    """Replayed headers are the original ones: every dlq_* header is removed, others kept."""
    letter = _letter(0, "alice_unavailable", EARLY)
    assert letter.original_headers() == ORIGINAL
    assert not set(DLQ_HEADERS) & {k for k, _ in letter.original_headers()}


def test_filters_by_error_class_time_and_user() -> None:
    """Each filter narrows the match; unset filters match everything."""
    first = _letter(0, "alice_unavailable", EARLY)
    second = _letter(1, "invalid_report", LATE, key=None)
    assert Filters().match(first)
    assert Filters().match(second)
    assert [
        Filters(error_classes=frozenset({"invalid_report"})).match(x) for x in (first, second)
    ] == [False, True]
    assert [Filters(since=datetime(2025, 3, 1, tzinfo=UTC)).match(x) for x in (first, second)] == [
        False,
        True,
    ]
    other = Filters(user_id="00000000-0000-0000-0000-000000000000")
    assert not other.match(first)
    assert Filters(user_id=USER).match(second)  # no key: the value's user_id decides


def test_dry_run_lines_list_where_and_why_never_the_value() -> None:
    """A dry run prints topic/partition/offset and error class per record, then counts."""
    letters = [
        _letter(3, "alice_unavailable", EARLY),
        _letter(4, "invalid_report", EARLY),
        _letter(5, "alice_unavailable", EARLY),
    ]
    lines = dry_run_lines(letters)
    assert lines == [
        "would replay dlq/1/3 error_class=alice_unavailable",
        "would replay dlq/1/4 error_class=invalid_report",
        "would replay dlq/1/5 error_class=alice_unavailable",
        "dry run: 3 dead letter(s) would be replayed",
        "  alice_unavailable: 2",
        "  invalid_report: 1",
    ]
    assert not any("do-not-print" in line or USER in line for line in lines)
