"""The wire contracts: the input event, the derived CloudEvents, and dead-letter headers.

Versioned, frozen models with field descriptions (they feed the AsyncAPI document) and
deterministic ids: deriving the same change twice gives the same CloudEvents `ce_id`.
Pure: standard library and pydantic only.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from service.errors import InvalidInputEvent

_JSON_TYPE_NAMES: Final = {
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}

CE_SPECVERSION: Final = "1.0"
CE_SOURCE: Final = "urn:alice-report-ingestor"
CONTENT_TYPE_JSON: Final = "application/json"
# Namespace of the deterministic ids: uuid5(namespace, what identifies the change).
ID_NAMESPACE: Final = uuid.UUID("6b0c3a86-38b7-4c0f-9bd4-5d6a2f1c9e71")

Headers = Sequence[tuple[str, bytes]]


class OnboardingCompleted(BaseModel):
    """Input (v1): a user finished onboarding; fetch their report. Other keys are ignored."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    user_id: uuid.UUID = Field(description="The Alice user id (UUID).")
    event_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="The producer's id of this event; redeliveries with the same id are skipped.",
    )
    occurred_at: AwareDatetime | None = Field(
        default=None, description="When onboarding completed (RFC 3339, with an offset)."
    )


class InputEvent(BaseModel):
    """A decoded input message: the event plus the id the inbox deduplicates on."""

    model_config = ConfigDict(frozen=True)

    user_id: str
    message_id: str
    occurred_at: datetime | None = None


def _describe(error: ValidationError) -> str:
    # Field locations and pydantic's messages only: never the offending input value.
    parts = []
    for item in error.errors(include_input=False, include_url=False)[:3]:
        loc = ".".join(str(p) for p in item["loc"]) or "value"
        parts.append(f"{loc}: {item['msg']}")
    return "; ".join(parts)


def header(headers: Headers, name: str) -> bytes | None:
    """The last value of a Kafka header, or None."""
    found = None
    for key, value in headers:
        if key == name:
            found = value
    return found


def parse_input(
    value: bytes | None, headers: Headers, *, topic: str, partition: int, offset: int
) -> InputEvent:
    """Decode an onboarding-completed message; raise InvalidInputEvent with a clear reason.

    Accepts a JSON object (`user_id`, optional `event_id`, `occurred_at`), a CloudEvents
    binary-mode message (`ce_*` headers, the same JSON as data; `ce_id` is the event id) and a
    CloudEvents structured-mode message (`specversion`, `id`, `data`).
    """
    if not value:
        raise InvalidInputEvent("empty message value")
    try:
        document = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInputEvent("message value is not valid JSON") from None
    if not isinstance(document, dict):
        kind = _JSON_TYPE_NAMES.get(type(document), "value")
        raise InvalidInputEvent(f"message value is a JSON {kind}, not an object")
    event_id: str | None = None
    if "specversion" in document and isinstance(document.get("data"), dict):
        event_id = str(document["id"]) if document.get("id") else None
        document = document["data"]
    ce_id = header(headers, "ce_id")
    if ce_id:
        event_id = ce_id.decode("utf-8", "replace")
        if len(event_id) > 200:
            raise InvalidInputEvent("ce_id header: longer than 200 characters")
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in event_id):
            raise InvalidInputEvent("ce_id header: contains control characters")
    try:
        event = OnboardingCompleted.model_validate(document)
    except ValidationError as exc:
        raise InvalidInputEvent(_describe(exc)) from None
    event_id = event_id or event.event_id
    return InputEvent(
        user_id=str(event.user_id),
        message_id=f"event:{event_id}" if event_id else f"offset:{topic}:{partition}:{offset}",
        occurred_at=event.occurred_at,
    )


# --- Derived events (output) -----------------------------------------------------------------
STATE_CHANGED: Final = "onboarding.user.state_changed"
RESULT_CHANGED: Final = "onboarding.result.changed"
DOCUMENT_ADDED: Final = "onboarding.document.added"
SELFIE_ADDED: Final = "onboarding.selfie.added"
RISK_FLAGGED: Final = "onboarding.risk.flagged"
DERIVED_TYPES: Final = (STATE_CHANGED, RESULT_CHANGED, DOCUMENT_ADDED, SELFIE_ADDED, RISK_FLAGGED)


class DerivedEvent(BaseModel):
    """One state change derived from two snapshots, published as a CloudEvent (data v1)."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Deterministic CloudEvents id (uuid5 of the change).")
    type: str = Field(description="CloudEvents type, e.g. onboarding.user.state_changed.")
    user_id: str = Field(description="The Alice user id; also ce_subject and the record key.")
    time: AwareDatetime = Field(description="When the change was observed.")
    data: dict[str, Any] = Field(description="The JSON data: user_id, report_id and the change.")


class DerivedEventData(BaseModel):
    """Output (v1): the record value of a derived CloudEvent; which fields appear depends on
    `ce_type` (the CloudEvents attributes travel as `ce_*` headers, Kafka binary mode)."""

    model_config = ConfigDict(populate_by_name=True)

    user_id: str = Field(description="The Alice user id (all types).")
    report_id: str = Field(description="The report the change was derived from (all types).")
    from_: str | None = Field(
        default=None,
        alias="from",
        description="state_changed: previous state (null the first time); result.changed: "
        "previous value.",
    )
    to: str | None = Field(default=None, description="state_changed / result.changed: new value.")
    results: dict[str, str | None] | None = Field(
        default=None, description="state_changed: the four summary result dimensions."
    )
    dimension: str | None = Field(default=None, description="result.changed: which dimension.")
    document_id: str | None = Field(default=None, description="document.added: the document.")
    type: str | None = Field(default=None, description="document.added: document type.")
    issuing_country: str | None = Field(
        default=None, description="document.added: ISO 3166-1 alpha-3."
    )
    selfie_id: str | None = Field(default=None, description="selfie.added: the selfie.")
    reason: str | None = Field(
        default=None,
        description="risk.flagged: liveness_below_threshold, face_matching_below_threshold, "
        "duplicates_found or check_failed.",
    )
    value: float | None = Field(default=None, description="risk.flagged: the offending score.")
    threshold: float | None = Field(default=None, description="risk.flagged: the threshold.")
    check: str | None = Field(default=None, description="risk.flagged (check_failed): check key.")
    scope: str | None = Field(default=None, description="risk.flagged (check_failed): where.")
    owner_id: str | None = Field(default=None, description="risk.flagged: selfie/document id.")
    count: int | None = Field(default=None, description="risk.flagged (duplicates_found).")


def derived_event_id(user_id: str, event_type: str, change: str) -> str:
    """The deterministic id of a change: same user, type and change text, same id."""
    return str(uuid.uuid5(ID_NAMESPACE, f"{user_id}|{event_type}|{change}"))


def cloudevent_headers(event: DerivedEvent) -> list[tuple[str, bytes]]:
    """Kafka binary-mode CloudEvents headers of a derived event."""
    return [
        ("ce_specversion", CE_SPECVERSION.encode()),
        ("ce_id", event.id.encode()),
        ("ce_source", CE_SOURCE.encode()),
        ("ce_type", event.type.encode()),
        ("ce_time", event.time.astimezone(UTC).isoformat().encode()),
        ("ce_subject", event.user_id.encode()),
        ("content-type", CONTENT_TYPE_JSON.encode()),
    ]


def encode_data(event: DerivedEvent) -> bytes:
    """The record value: compact JSON of the event's data."""
    return json.dumps(event.data, separators=(",", ":"), ensure_ascii=False).encode()


# --- Dead letters ------------------------------------------------------------------------------
DLQ_ERROR_CLASS: Final = "dlq_error_class"
DLQ_REASON: Final = "dlq_reason"
DLQ_SOURCE_TOPIC: Final = "dlq_source_topic"
DLQ_SOURCE_PARTITION: Final = "dlq_source_partition"
DLQ_SOURCE_OFFSET: Final = "dlq_source_offset"
DLQ_ATTEMPTS: Final = "dlq_attempts"
DLQ_FAILED_AT: Final = "dlq_failed_at"
DLQ_HEADERS: Final = (
    DLQ_ERROR_CLASS,
    DLQ_REASON,
    DLQ_SOURCE_TOPIC,
    DLQ_SOURCE_PARTITION,
    DLQ_SOURCE_OFFSET,
    DLQ_ATTEMPTS,
    DLQ_FAILED_AT,
)
MAX_REASON_CHARS: Final = 300


def dead_letter_headers(
    original: Iterable[tuple[str, bytes]],
    *,
    error_class: str,
    reason: str,
    topic: str,
    partition: int,
    offset: int,
    attempts: int,
    failed_at: datetime,
) -> list[tuple[str, bytes]]:
    """The original headers (minus earlier dead-letter ones) plus why and where it failed."""
    kept = [(k, v) for k, v in original if k not in DLQ_HEADERS]
    return [
        *kept,
        (DLQ_ERROR_CLASS, error_class.encode()),
        (DLQ_REASON, reason[:MAX_REASON_CHARS].encode()),
        (DLQ_SOURCE_TOPIC, topic.encode()),
        (DLQ_SOURCE_PARTITION, str(partition).encode()),
        (DLQ_SOURCE_OFFSET, str(offset).encode()),
        (DLQ_ATTEMPTS, str(attempts).encode()),
        (DLQ_FAILED_AT, failed_at.astimezone(UTC).isoformat().encode()),
    ]


def headers_to_json(headers: Iterable[tuple[str, bytes]]) -> list[list[str]]:
    """Headers as JSON-storable pairs (values decoded as UTF-8, replacing bad bytes)."""
    # PostgreSQL's JSONB cannot hold U+0000: such bytes become U+FFFD like invalid UTF-8.
    return [
        [k.replace("\x00", "\ufffd"), v.decode("utf-8", "replace").replace("\x00", "\ufffd")]
        for k, v in headers
    ]


def headers_from_json(pairs: Iterable[Sequence[str]] | None) -> list[tuple[str, bytes]]:
    """The inverse of headers_to_json."""
    return [(str(k), str(v).encode()) for k, v in (pairs or [])]


def dead_letter_info(headers: Mapping[str, bytes]) -> dict[str, str]:
    """The dead-letter headers of a message, decoded (for replay filters and tools)."""
    return {k: headers[k].decode("utf-8", "replace") for k in DLQ_HEADERS if k in headers}
