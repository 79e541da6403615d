"""Where Alice may evolve, the model bends: unknown keys are kept, new values accepted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from service.report import Document, DocumentField, DocumentSides, document_number, parse_report
from service.report.constants import STATE_IN_PROGRESS
from tests.unit.report.conftest import encode


def test_unknown_keys_are_kept_at_every_level(envelope: dict[str, Any]) -> None:
    """Keys the model does not know survive, in `model_extra` and in `model_dump()`."""
    envelope["envelope_extra"] = 1
    envelope["report"]["risk_profile"] = {"level": "low"}
    envelope["report"]["summary"]["state"]["reason"] = "manual review"
    envelope["report"]["selfies"][0]["media"]["video"]["codec"] = "h264"
    envelope["report"]["documents"][0]["checks"][0]["severity"] = 3
    envelope["report"]["events"][0]["device"]["os_build"] = None

    report = parse_report(encode(envelope)).report

    assert report.model_extra == {"risk_profile": {"level": "low"}}
    assert report.summary is not None
    assert report.summary.state is not None
    assert report.summary.state.model_extra == {"reason": "manual review"}
    assert report.selfies[0].media["video"].model_extra == {"codec": "h264"}
    assert report.documents[0].checks[0].model_extra == {"severity": 3}
    dumped = report.model_dump()
    assert dumped["events"][0]["device"]["os_build"] is None
    assert dumped["documents"][0]["sides"]["front"]["forensics_scores"] is None


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("documents", 0, "meta", "type"), "digitalwallet"),
        (("documents", 0, "sides", "front", "side"), "hologram"),
        (("summary", "face_matching", 0, "meta", "side"), "hologram"),
        (("summary", "state", "value"), "ON_HOLD"),
        (("summary", "result", "document_read"), "partial"),
        (("selfies", 0, "checks", 0, "key"), "deepfake_check"),
        (("events", 0, "type"), "user_paused"),
    ],
)
def test_new_enum_values_validate_and_are_kept(
    envelope: dict[str, Any], path: tuple[str | int, ...], value: str
) -> None:
    """A value outside today's known set is accepted as it is, never a validation failure."""
    target: Any = envelope["report"]
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value

    dumped = parse_report(encode(envelope)).report.model_dump()

    found: Any = dumped
    for part in path:
        found = found[part]
    assert found == value


def test_inprogress_alias_is_normalised(envelope: dict[str, Any]) -> None:
    """The docs' spelling INPROGRESS reads as IN_PROGRESS."""
    envelope["report"]["summary"]["state"]["value"] = "INPROGRESS"
    assert parse_report(encode(envelope)).report.user_state == STATE_IN_PROGRESS


def test_nulls_and_absences_where_optional(envelope: dict[str, Any]) -> None:
    """Optional values may be null or missing; null collections read as empty ones."""
    report_json = envelope["report"]
    report_json["summary"]["face_liveness"] = None
    report_json["summary"]["state"] = None
    report_json["summary"]["result"] = None
    report_json["summary"]["checks"] = None
    report_json["selfies"][0]["liveness"] = None
    report_json["selfies"][0]["media"] = None
    report_json["documents"][0]["sides"]["front"]["fields"][0]["checks"] = None
    report_json["events"] = None
    del report_json["created_at"]
    del report_json["duplicates"]

    report = parse_report(encode(envelope)).report

    assert report.summary is not None
    assert report.summary.face_liveness is None
    assert report.user_state is None
    assert report.results == dict.fromkeys(
        ["selfie_security", "document_security", "document_read", "process_security"]
    )
    assert report.summary.checks == []
    assert report.selfies[0].media == {}
    assert report.events == []
    assert report.duplicates == []
    assert report.created_at is None


def test_minimal_report_has_only_ids(envelope: dict[str, Any]) -> None:
    """A report with nothing but its ids validates, and the helpers answer None or empty."""
    ids = {k: envelope["report"][k] for k in ("id", "user_id")}
    report = parse_report(encode({"report": ids})).report
    assert report.summary is None
    assert report.user_state is None
    assert report.selfies == []


def test_uppercase_ids_are_canonicalised(envelope: dict[str, Any]) -> None:
    """An upper-case UUID is accepted and kept in canonical lower case."""
    envelope["report"]["id"] = envelope["report"]["id"].upper()
    assert parse_report(encode(envelope)).report.id == "9dcc4f7c-a652-4041-81f9-fa71ba89d6d3"


def test_naive_timestamp_is_read_as_utc(envelope: dict[str, Any]) -> None:
    """A timestamp without an offset is taken as UTC; one with an offset is converted to UTC."""
    envelope["report"]["created_at"] = "2024-03-05T10:15:00"
    envelope["report"]["events"][0]["occurred_on"] = "2024-03-05T12:15:00+02:00"
    report = parse_report(encode(envelope)).report
    assert report.created_at == datetime(2024, 3, 5, 10, 15, tzinfo=UTC)
    assert report.created_at.tzinfo is UTC
    occurred = report.events[0].occurred_on
    assert occurred == datetime(2024, 3, 5, 12, 15, tzinfo=timezone(timedelta(hours=2)))
    assert occurred is not None
    assert occurred.tzinfo is UTC


@pytest.mark.parametrize(
    ("doc_type", "field_name"),
    [
        ("residencepermit", "id_number"),
        ("driverlicense", "license_number"),
        ("healthinsurancecard", "health_insurance_number"),
        ("digitalwallet", "license_number"),
    ],
)
def test_document_number_by_type_and_fallback(doc_type: str, field_name: str) -> None:
    """The number is found under the type's field name, on a side, or any known name."""
    document = Document.model_validate(
        {
            "meta": {"type": doc_type},
            "summary_fields": [{"name": "first_name", "value": "ANA"}],
            "sides": {"back": {"fields": [{"name": field_name, "value": "N-123"}]}},
        }
    )
    assert document_number(document) == "N-123"


def test_document_number_absent() -> None:
    """A document without any number field has no number."""
    document = Document(sides=DocumentSides(), summary_fields=[DocumentField(name="x", value="1")])
    assert document_number(document) is None
