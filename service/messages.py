"""The wire contracts: the input event, the derived CloudEvents, and dead-letter headers.

Versioned, frozen models with field descriptions (they feed the AsyncAPI document) and
deterministic ids: deriving the same change twice gives the same CloudEvents `ce_id`.
Pure: standard library and pydantic only.
"""

from __future__ import annotations

import base64
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

Headers = Sequence[tuple[str, bytes | None]]


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
    kind: str = Field(default="onboarding_completed", description="What the message asks for.")


def _describe(error: ValidationError) -> str:
    # Field locations and pydantic's messages only: never the offending input value.
    parts = []
    for item in error.errors(include_input=False, include_url=False)[:3]:
        loc = ".".join(str(p) for p in item["loc"]) or "value"
        parts.append(f"{loc}: {item['msg']}")
    return "; ".join(parts)


def header(headers: Headers, name: str) -> bytes | None:
    """The last value of a Kafka header, or None (absent, or a null value)."""
    found = None
    for key, value in headers:
        if key == name:
            found = value
    return found


MAX_ID_CHARS: Final = 200


def checked_id(raw: object, what: str) -> str:
    """An event id or source as the inbox may store it, or InvalidInputEvent saying why not.

    1-200 characters of valid Unicode text with no control characters: the same rule for every
    id, whether it came in a header, a structured CloudEvent or the JSON body. Bytes must be
    valid UTF-8 (two different byte strings must never become one id). PostgreSQL can store
    whatever passes, and a btree index row can hold it.
    """
    if isinstance(raw, bytes):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInputEvent(f"{what}: not valid UTF-8") from None
    elif isinstance(raw, str):
        text = raw
    elif isinstance(raw, int) and not isinstance(raw, bool):
        text = str(raw)
    else:
        raise InvalidInputEvent(f"{what}: not a string")
    if not text:
        raise InvalidInputEvent(f"{what}: empty")
    if len(text) > MAX_ID_CHARS:
        raise InvalidInputEvent(f"{what}: longer than {MAX_ID_CHARS} characters")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F for c in text):
        raise InvalidInputEvent(f"{what}: contains control characters")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate, from a JSON escape such as "\ud800"
        raise InvalidInputEvent(f"{what}: not valid Unicode") from None
    return text


def offset_message_id(topic: str, partition: int, offset: int, timestamp: int | None) -> str:
    """The inbox id of a message without an event id: where it is, scoped by its timestamp.

    Offsets start again at 0 when a topic is deleted and created again; the record's timestamp
    (set by the producer or the broker, and the same on every redelivery) tells the new record
    at an old offset from the old one.
    """
    base = f"offset:{topic}:{partition}:{offset}"
    return f"{base}@{timestamp}" if timestamp is not None and timestamp >= 0 else base


def event_message_id(event_id: str, source: str | None) -> str:
    """The inbox id of a message with an event id: CloudEvents ids are unique per source."""
    if source is None:
        return f"event:{event_id}"
    # Length-prefixed: no choice of source and id can collide with another pair.
    return f"ce:{len(source)}:{source}:{event_id}"


def parse_input(
    value: bytes | None,
    headers: Headers,
    *,
    topic: str,
    partition: int,
    offset: int,
    timestamp: int | None = None,
) -> InputEvent:
    """Decode an onboarding-completed message; raise InvalidInputEvent with a clear reason.

    Accepts a JSON object (`user_id`, optional `event_id`, `occurred_at`), a CloudEvents
    binary-mode message (`ce_*` headers, the same JSON as data; `ce_id` and `ce_source`
    identify the event) and a CloudEvents structured-mode message (`specversion`, `id`,
    `source`, `data`). Never raises anything else, whatever the record holds. An erasure
    request (`"type": "user.erasure_requested"` in the JSON, or the CloudEvents type
    `onboarding.user.erasure_requested`) decodes the same way, with `kind="erasure_requested"`.
    """
    try:
        return _parse_input(
            value, headers, topic=topic, partition=partition, offset=offset, timestamp=timestamp
        )
    except InvalidInputEvent:
        raise
    except Exception as exc:  # RecursionError of deep nesting, MemoryError, a bug: still invalid
        raise InvalidInputEvent(f"message could not be decoded ({type(exc).__name__})") from None


def _parse_input(
    value: bytes | None,
    headers: Headers,
    *,
    topic: str,
    partition: int,
    offset: int,
    timestamp: int | None,
) -> InputEvent:
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
    source: str | None = None
    kind = ONBOARDING_COMPLETED_KIND
    structured = "specversion" in document and isinstance(document.get("data"), dict)
    if document.get("type") == (ERASURE_REQUESTED if structured else ERASURE_REQUESTED_PLAIN):
        kind = ERASURE_REQUESTED_KIND
    if structured:
        if document.get("id") is not None:
            event_id = checked_id(document["id"], "id")
        if document.get("source") is not None:
            source = checked_id(document["source"], "source")
        document = document["data"]
    if header(headers, "ce_type") == ERASURE_REQUESTED.encode():
        kind = ERASURE_REQUESTED_KIND
    ce_id = header(headers, "ce_id")
    if ce_id is not None:
        event_id = checked_id(ce_id, "ce_id header")
        ce_source = header(headers, "ce_source")
        source = checked_id(ce_source, "ce_source header") if ce_source is not None else None
    try:
        event = OnboardingCompleted.model_validate(document)
    except ValidationError as exc:
        raise InvalidInputEvent(_describe(exc)) from None
    if event_id is None and event.event_id is not None:
        event_id = checked_id(event.event_id, "event_id")
    return InputEvent(
        user_id=str(event.user_id),
        message_id=(
            event_message_id(event_id, source)
            if event_id
            else offset_message_id(topic, partition, offset, timestamp)
        ),
        occurred_at=event.occurred_at,
        kind=kind,
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


# --- Erasure (GDPR Art. 17; service/privacy/erasure.py) -----------------------------------------
ONBOARDING_COMPLETED_KIND: Final = "onboarding_completed"
ERASURE_REQUESTED_KIND: Final = "erasure_requested"
ERASURE_REQUESTED_PLAIN: Final = "user.erasure_requested"  # `type` of a plain JSON input
ERASURE_REQUESTED: Final = "onboarding.user.erasure_requested"  # its CloudEvents type
USER_ERASED: Final = "onboarding.user.erased"


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
    original: Iterable[tuple[str, bytes | None]],
    *,
    error_class: str,
    reason: str,
    topic: str,
    partition: int,
    offset: int,
    attempts: int,
    failed_at: datetime,
) -> list[tuple[str, bytes | None]]:
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


HeaderJson = list[Any]


def _text_or_bytes(value: bytes) -> str | dict[str, str]:
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None or "\x00" in text:  # JSONB cannot hold U+0000
        return {"base64": base64.b64encode(value).decode("ascii")}
    return text


def headers_to_json(headers: Iterable[tuple[str, bytes | None]]) -> list[HeaderJson]:
    """Headers as JSON-storable pairs that keep every byte: a value is its UTF-8 text when it
    is valid UTF-8 without NUL, else `{"base64": ...}`; a null value stays null."""
    pairs: list[HeaderJson] = []
    for key, value in headers:
        stored_key = _text_or_bytes(key.encode("utf-8", "surrogatepass"))
        pairs.append([stored_key, None if value is None else _text_or_bytes(value)])
    return pairs


def _from_stored(value: object) -> bytes:
    if isinstance(value, dict):
        return base64.b64decode(str(value.get("base64", "")))
    return str(value).encode("utf-8")


def headers_from_json(pairs: Iterable[Sequence[Any]] | None) -> list[tuple[str, bytes | None]]:
    """The inverse of headers_to_json (also reads rows written before bytes were kept)."""
    return [
        (
            _from_stored(key).decode("utf-8", "surrogatepass"),
            None if value is None else _from_stored(value),
        )
        for key, value in (pairs or [])
    ]


def dead_letter_info(headers: Mapping[str, bytes | None]) -> dict[str, str]:
    """The dead-letter headers of a message, decoded (for replay filters and tools)."""
    return {k: (headers[k] or b"").decode("utf-8", "replace") for k in DLQ_HEADERS if k in headers}
