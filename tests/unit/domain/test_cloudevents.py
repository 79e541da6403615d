"""The CloudEvents Kafka binding of derived events: records the official SDK decodes, for every
derived event type, with the schema each names."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import get_args

from cloudevents.core.bindings.kafka import KafkaMessage, from_binary
from cloudevents.core.formats.json import JSONFormat

from service.events.data import RISK_MODELS, RISK_REASONS, UserErased
from service.events.envelope import DERIVED_TYPES, DerivedEvent, derived_event_id
from service.events.kafka import sdk_to_kafka, to_kafka
from service.events.schemas import schema_files
from service.messages import STATE_CHANGED, USER_ERASED, deleted_upstream_event
from tests.unit.domain.variants import (
    EXAMPLE,
    Snapshot,
    add_trusted_document,
    document_check,
    duplicates,
    history,
    result,
    state,
    void_document,
    void_selfie,
)

SCHEMAS = Path(__file__).resolve().parents[3] / "docs" / "schemas"
USER_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"


def every_type() -> list[DerivedEvent]:
    """Events of every derived type, from a short history of reports."""
    first = copy.deepcopy(EXAMPLE)
    second = [
        state("ACCEPTED"),
        result("document_read", "ko"),
        void_document(1),
        void_selfie,
        add_trusted_document("0f5b6c1e-3333-4d2a-8e7f-0123456789ef", "invoice"),
        document_check("authentic_nfc_chip", 99.0),
        duplicates("00000000-0000-4000-8000-000000000001"),
    ]
    derived = [e for events in history(Snapshot(base=first), Snapshot(*second)) for e in events]
    # The reconciler's event, not derived from two reports.
    gone = deleted_upstream_event(
        USER_ID,
        report_id=None,
        last_state="ACCEPTED",
        last_content_hash="ab",
        observed_at=datetime(2024, 3, 6, tzinfo=UTC),
    )
    erased = DerivedEvent(
        id=derived_event_id(USER_ID, USER_ERASED, "request-1"),
        type=USER_ERASED,
        user_id=USER_ID,
        time=datetime(2024, 3, 7, tzinfo=UTC),
        data=UserErased(user_id=USER_ID, erased_at=datetime(2024, 3, 7, tzinfo=UTC)).model_dump(
            mode="json"
        ),
    )
    return [*derived, gone, erased]


def test_every_type_decodes_with_the_sdk() -> None:
    """Every derived event type's record decodes with the CloudEvents SDK into the same id,
    type, source, subject, time, dataschema and data."""
    events = every_type()
    assert {e.type for e in events} == set(DERIVED_TYPES)
    for event in events:
        headers, value = to_kafka(event)
        decoded = from_binary(KafkaMessage(dict(headers), event.user_id, value), JSONFormat())
        assert decoded.get_specversion() == "1.0"
        assert decoded.get_id() == event.id
        assert decoded.get_type() == event.type
        assert decoded.get_source() == "urn:alice-report-ingestor"
        assert decoded.get_subject() == event.user_id
        assert decoded.get_time() == event.time
        assert decoded.get_dataschema() == f"urn:alice-report-ingestor:schema:{event.type}:v1"
        assert decoded.get_datacontenttype() == "application/json"
        assert decoded.get_data() == event.data


def test_records_equal_the_sdks_own_encoding() -> None:
    """The hand-written encoder writes, for every derived type, exactly the headers (names,
    order, values) and value bytes the SDK's `to_binary` writes for the same event."""
    events = every_type()
    odd = DerivedEvent(
        id=derived_event_id(USER_ID, STATE_CHANGED, "odd"),
        type=STATE_CHANGED,
        user_id=USER_ID,
        time=datetime(2024, 3, 5, 12, 12, 52, 123456, tzinfo=timezone(timedelta(hours=-5))),
        data={"user_id": USER_ID, "report_id": USER_ID, "from": 'Ñandú \u2028 "q"', "to": None},
    )
    for event in [*events, odd]:
        assert to_kafka(event) == sdk_to_kafka(event), event.type


def test_record_headers_are_exactly_the_binary_mode_set() -> None:
    """A record carries exactly the CloudEvents binary-mode headers, its time in UTC."""
    event = DerivedEvent(
        id=derived_event_id(USER_ID, STATE_CHANGED, "a>b|state"),
        type=STATE_CHANGED,
        user_id=USER_ID,
        time=datetime(2024, 3, 5, 12, 12, 52, tzinfo=timezone(timedelta(hours=2))),
        data={"user_id": USER_ID, "report_id": USER_ID, "from": None, "to": "Ñandú"},
    )
    headers, value = to_kafka(event)
    assert dict(headers) == {
        "ce_specversion": b"1.0",
        "ce_id": event.id.encode(),
        "ce_source": b"urn:alice-report-ingestor",
        "ce_type": b"onboarding.user.state_changed",
        "ce_time": b"2024-03-05T10:12:52Z",
        "ce_subject": USER_ID.encode(),
        "ce_dataschema": b"urn:alice-report-ingestor:schema:onboarding.user.state_changed:v1",
        "content-type": b"application/json",
    }
    assert len(headers) == 8
    assert json.loads(value) == event.data


def test_committed_schemas_are_up_to_date() -> None:
    """docs/schemas/ holds exactly the schema files the data models generate (make docs)."""
    committed = {p.name: p.read_text(encoding="utf-8") for p in SCHEMAS.glob("*.json")}
    assert committed == schema_files(), "docs/schemas is stale: run `make docs` and commit it"


def test_each_schema_is_named_by_its_dataschema() -> None:
    """Each type's schema file has the type's dataschema as its $id and forbids other keys."""
    for event_type in DERIVED_TYPES:
        schema = json.loads((SCHEMAS / f"{event_type}.v1.json").read_text(encoding="utf-8"))
        assert schema["$id"] == f"urn:alice-report-ingestor:schema:{event_type}:v1"
        variants = [schema, *schema.get("$defs", {}).values()]
        assert all(v.get("additionalProperties") is False for v in variants if "properties" in v)


def test_reason_constants_name_the_risk_models() -> None:
    """RISK_REASONS lists each risk.flagged model's reason, in order, once."""
    literals = [get_args(model.model_fields["reason"].annotation)[0] for model in RISK_MODELS]
    assert literals == list(RISK_REASONS)
    assert len(set(RISK_REASONS)) == len(RISK_REASONS) == 10
