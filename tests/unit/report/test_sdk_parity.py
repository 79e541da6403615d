"""Values Alice's SDK accepts that the model once refused, and the asked-for user rule."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from service.errors import InvalidReport, PermanentError, ReportForOtherUser
from service.report import parse_report
from tests.unit.report.conftest import encode

OTHER_USER = "0f5b3c2e-6d1a-4b7e-9c8d-2a1b3c4d5e6f"
PDF = {"href": "https://example.invalid/m/1/download", "extension": "pdf", "objects": None}


def test_null_media_entries_of_sides_and_trusted_documents_are_accepted(
    envelope: dict[str, Any],
) -> None:
    """A null entry in a side's media map and `{"pdf": null}` in an other trusted document
    (both `Dict[str, Optional[Href]]` in the SDK) parse and read as None."""
    report = envelope["report"]
    report["documents"][0]["sides"]["front"]["media"]["cropped_document"] = None
    report["other_trusted_documents"] = [
        {
            "id": "b7f0c9a2-1d3e-4f5a-8b6c-7d8e9f0a1b2c",
            "created_at": "2024-03-05T10:20:00+00:00",
            "media": {"pdf": None, "preview": PDF},
            "meta": {"voided": False, "category": "proof_of_address"},
        }
    ]

    parsed = parse_report(encode(envelope)).report

    front = parsed.documents[0].sides.front if parsed.documents[0].sides else None
    assert front is not None
    assert front.media["cropped_document"] is None
    assert front.media["document"] is not None
    assert parsed.other_trusted_documents[0].media["pdf"] is None
    preview = parsed.other_trusted_documents[0].media["preview"]
    assert preview is not None
    assert preview.extension == "pdf"


def test_forensics_scores_are_read(envelope: dict[str, Any]) -> None:
    """A side's `forensics_scores` (any JSON object in the SDK) is read as sent."""
    scores = {"screen": 97.5, "detectors": {"print": [1, 2]}}
    envelope["report"]["documents"][0]["sides"]["front"]["forensics_scores"] = scores
    parsed = parse_report(encode(envelope)).report
    front = parsed.documents[0].sides.front if parsed.documents[0].sides else None
    assert front is not None
    assert front.forensics_scores == scores


@pytest.mark.parametrize("score", [-3, 150, 10**30, 87.5])
def test_field_scores_without_a_documented_range_are_accepted(
    envelope: dict[str, Any], score: float
) -> None:
    """A field's read score outside 0-100 (an unbounded int in the SDK) does not fail."""
    envelope["report"]["summary"]["user_data"][0]["score"] = score
    parsed = parse_report(encode(envelope)).report
    assert parsed.summary is not None
    assert parsed.summary.user_data[0].score == score


@pytest.mark.parametrize("version", ["v2", 2**40, {"major": 1}, 1.5])
def test_an_event_version_of_another_shape_reads_as_none(
    envelope: dict[str, Any], version: object
) -> None:
    """`events[].version`, which the SDK ignores, reads as None when it is not a 32-bit integer,
    and as its value when it is."""
    envelope["report"]["events"][0]["version"] = version
    envelope["report"]["events"][1]["version"] = 3
    events = parse_report(encode(envelope)).report.events
    assert events[0].version is None
    assert events[1].version == 3


@pytest.mark.parametrize("duplicates", [{"count": 2}, "none", 7])
def test_duplicates_of_another_shape_read_as_empty(
    envelope: dict[str, Any], duplicates: object
) -> None:
    """`duplicates`, which the SDK does not declare, reads as empty unless it is a list."""
    envelope["report"]["duplicates"] = duplicates
    parsed = parse_report(encode(envelope))
    assert parsed.report.duplicates == []
    assert b'"duplicates"' in parsed.raw


def test_a_selfie_result_of_another_shape_reads_as_none(envelope: dict[str, Any]) -> None:
    """`selfies[].result`, which the SDK ignores, reads as None when it is not text."""
    envelope["report"]["selfies"][0]["result"] = {"liveness": "ok"}
    assert parse_report(encode(envelope)).report.selfies[0].result is None


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:30:00+01:00", "9999-12-31T23:30:00-01:00", 1_700_000_000]
)
def test_timestamps_without_a_utc_equivalent_or_numeric_are_accepted(
    envelope: dict[str, Any], moment: object
) -> None:
    """Timestamps the SDK accepts (edge offsets, Unix seconds) are read, never an error."""
    envelope["report"]["created_at"] = moment
    created = parse_report(encode(envelope)).report.created_at
    assert isinstance(created, datetime)
    assert created.tzinfo is not None


def test_a_report_for_another_user_is_refused(envelope: dict[str, Any]) -> None:
    """A report whose user_id is not the asked user raises `report_for_other_user`, a
    permanent invalid-report error that names neither id."""
    asked = envelope["report"]["user_id"]
    envelope["report"]["user_id"] = OTHER_USER
    with pytest.raises(ReportForOtherUser) as caught:
        parse_report(encode(envelope), expected_user_id=asked)
    error = caught.value
    assert isinstance(error, InvalidReport)
    assert isinstance(error, PermanentError)
    assert error.code == "report_for_other_user"
    assert OTHER_USER not in str(error)
    assert asked not in str(error)


def test_the_asked_user_matches_whatever_its_case(envelope: dict[str, Any]) -> None:
    """The asked user id is compared in canonical (lowercase) form."""
    asked = envelope["report"]["user_id"]
    parsed = parse_report(encode(envelope), expected_user_id=asked.upper())
    assert parsed.report.user_id == asked
