"""Bodies that are not a valid report fail with InvalidReport naming the field, not its value."""

from __future__ import annotations

from typing import Any

import pytest

from service.errors import InvalidReport, PermanentError
from service.report import parse_report
from tests.unit.report.conftest import encode

SECRET_NAME = "ZOË SECRETNAME"


@pytest.mark.parametrize(
    "body", [b"", b"x", b"{", b"[]", b'"x"', b"1", b"null", b"true", b"\xff\xfe", b"[{}]"]
)
def test_non_object_bodies_fail(body: bytes) -> None:
    """Empty, non-JSON and non-object bodies raise InvalidReport, a permanent error."""
    with pytest.raises(InvalidReport) as caught:
        parse_report(body)
    assert isinstance(caught.value, PermanentError)
    assert caught.value.reason.startswith("body: ")


def test_missing_envelope_key_fails(envelope: dict[str, Any]) -> None:
    """A bare report (no `report` envelope) is refused: only the envelope is accepted."""
    with pytest.raises(InvalidReport, match=r"^report: Field required"):
        parse_report(encode(envelope["report"]))


@pytest.mark.parametrize("field", ["id", "user_id"])
def test_missing_id_fails(envelope: dict[str, Any], field: str) -> None:
    """A report without its id or user id is invalid, and the reason names which."""
    del envelope["report"][field]
    with pytest.raises(InvalidReport, match=rf"^report\.{field}: Field required$"):
        parse_report(encode(envelope))


@pytest.mark.parametrize(
    "bad_id", [SECRET_NAME, "9dcc4f7ca6524041 81f9fa71ba89d6d3", "{9dcc4f7c-a652-4041-81f9}", 12]
)
def test_non_uuid_id_fails_without_echoing_it(envelope: dict[str, Any], bad_id: object) -> None:
    """A non-UUID id fails; the reason names `report.id` and never repeats the value."""
    envelope["report"]["id"] = bad_id
    with pytest.raises(InvalidReport) as caught:
        parse_report(encode(envelope))
    assert caught.value.reason.startswith("report.id: ")
    assert str(bad_id) not in str(caught.value)


def test_out_of_range_score_names_the_path(envelope: dict[str, Any]) -> None:
    """A score above 100 fails with the field path in the reason."""
    envelope["report"]["summary"]["face_liveness"] = 100.5
    with pytest.raises(InvalidReport) as caught:
        parse_report(encode(envelope))
    assert caught.value.reason == (
        "report.summary.face_liveness: Input should be less than or equal to 100"
    )


def test_error_hides_values_and_pydantic(envelope: dict[str, Any]) -> None:
    """The error carries no personal value, no pydantic chain, and lists at most 3 errors."""
    fields = envelope["report"]["summary"]["user_data"]
    fields[0]["value"] = {"first": SECRET_NAME}
    for field in fields[1:]:
        field["checks"] = [{"key": "over_18", "value": -1}]
    envelope["report"]["selfies"][0]["media"]["video"]["objects"] = {SECRET_NAME: "x"}
    with pytest.raises(InvalidReport) as caught:
        parse_report(encode(envelope))
    error = caught.value
    assert "SECRETNAME" not in str(error)
    assert "report.summary.user_data[0].value: Input should be a valid string" in error.reason
    assert error.reason.endswith("and 5 more errors")
    assert error.__cause__ is None
    assert error.__context__ is None


def test_data_keys_in_the_location_are_masked(envelope: dict[str, Any]) -> None:
    """A key taken from the data (here a bounding-box label) is masked in the reason."""
    envelope["report"]["selfies"][0]["media"]["video"]["objects"] = {SECRET_NAME: "x"}
    with pytest.raises(InvalidReport) as caught:
        parse_report(encode(envelope))
    assert caught.value.reason == (
        "report.selfies[0].media.video.objects.*: Input should be an object"
    )


def test_invalid_timestamp_fails(envelope: dict[str, Any]) -> None:
    """A timestamp that is not a date-time fails with its path named."""
    envelope["report"]["events"][2]["occurred_on"] = "yesterday"
    with pytest.raises(InvalidReport, match=r"^report\.events\[2\]\.occurred_on: "):
        parse_report(encode(envelope))


def test_nan_and_infinite_scores_fail(envelope: dict[str, Any]) -> None:
    """Non-finite scores (JSON extensions NaN/Infinity) are refused, not compared."""
    body = encode(envelope).replace(b'"face_liveness": 12.7', b'"face_liveness": NaN')
    with pytest.raises(InvalidReport, match=r"^report\.summary\.face_liveness: "):
        parse_report(body)
