"""The example report validates, and the helpers read the right values from it."""

from __future__ import annotations

from datetime import UTC, datetime

from service.report import (
    FailedCheck,
    ParsedReport,
    best_user_data,
    document_number,
    failed_checks,
    parse_report,
)
from service.report.constants import DOCUMENT_IDCARD, DOCUMENT_PASSPORT, STATE_TO_REVIEW

REPORT_ID = "9dcc4f7c-a652-4041-81f9-fa71ba89d6d3"
USER_ID = "21800ed8-f71c-4ae6-b7fd-16300ca23ca1"
SELFIE_ID = "82b67e5f-b365-4296-9015-02150b5c1d47"


def test_example_validates_with_its_ids(example_bytes: bytes) -> None:
    """The example body parses into a report whose ids are the canonical strings sent."""
    parsed = parse_report(example_bytes)
    assert isinstance(parsed, ParsedReport)
    assert str(parsed.report.id) == REPORT_ID
    assert parsed.report.user_id == USER_ID
    assert parsed.report.version == 1
    assert len(parsed.report.selfies) == 1
    assert [d.meta.type for d in parsed.report.documents if d.meta] == [
        DOCUMENT_IDCARD,
        DOCUMENT_PASSPORT,
    ]
    assert len(parsed.report.events) == 8
    assert parsed.report.duplicates == []


def test_raw_is_the_exact_bytes_given(example_bytes: bytes) -> None:
    """`raw` holds the very body received, byte for byte."""
    parsed = parse_report(example_bytes)
    assert parsed.raw == example_bytes
    assert parsed.raw is example_bytes


def test_user_state_and_results(example_bytes: bytes) -> None:
    """The state is TO_REVIEW and the four result dimensions are read from summary.result."""
    report = parse_report(example_bytes).report
    assert report.user_state == STATE_TO_REVIEW
    assert report.results == {
        "selfie_security": "ko",
        "document_security": "ok",
        "document_read": "ok",
        "process_security": "ok",
    }


def test_failed_checks_hold_the_low_selfie_liveness(example_bytes: bytes) -> None:
    """The only failing check of the example is the selfie's liveness, null checks never fail."""
    report = parse_report(example_bytes).report
    assert failed_checks(report) == [FailedCheck("selfie", SELFIE_ID, "liveness", 12.7)]
    assert failed_checks(report, include_fields=True) == failed_checks(report)


def test_failed_checks_threshold_is_a_parameter(example_bytes: bytes) -> None:
    """Raising the threshold above 100 fails every non-null check, across every scope."""
    report = parse_report(example_bytes).report
    strict = failed_checks(report, threshold=100.5, include_fields=True)
    scopes = {failure.scope for failure in strict}
    assert scopes == {"summary", "selfie", "document", "user_data", "document_field"}
    assert all(failure.value <= 100 for failure in strict)
    assert not any(f.key == "authentic_nfc_chip" for f in strict)  # null: does not apply
    side_failures = [f for f in strict if f.side == "back"]
    assert side_failures
    assert all(f.field is not None for f in side_failures)


def test_document_numbers_of_the_id_card_and_the_passport(example_bytes: bytes) -> None:
    """Each document's number is read from its type's own field, not the holder's id number."""
    idcard, passport = parse_report(example_bytes).report.documents
    assert document_number(idcard) == "99999999R"
    assert document_number(passport) == "PAA000589"


def test_best_user_data(example_bytes: bytes) -> None:
    """Best-read user data is looked up by field name; an unknown name gives None."""
    report = parse_report(example_bytes).report
    assert best_user_data(report, "first_name") == "CARMEN"
    assert best_user_data(report, "last_name") == "ESPAÑOLA ESPAÑOLA"
    assert best_user_data(report, "no_such_field") is None


def test_timestamps_are_aware_utc(example_bytes: bytes) -> None:
    """Every parsed timestamp is timezone-aware and in UTC."""
    report = parse_report(example_bytes).report
    assert report.created_at == datetime(2024, 3, 5, 10, 15, tzinfo=UTC)
    stamps = [report.created_at, *(e.occurred_on for e in report.events)]
    stamps += [s.created_at for s in report.selfies]
    stamps += [d.created_at for d in report.documents]
    assert all(s is not None and s.utcoffset() is not None for s in stamps)
    assert all(s is not None and s.tzinfo is UTC for s in stamps)
