"""The wire contracts: the input event, dead-letter headers, and (from `service.events`) the
derived CloudEvents.

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

from service.errors import HeaderKeyNotUtf8, InvalidInputEvent
from service.events.data import UserDeletedUpstream
from service.events.envelope import (
    CE_SOURCE,
    CE_SPECVERSION,
    CONTENT_TYPE_JSON,
    DERIVED_TYPES,
    DOCUMENT_ADDED,
    DOCUMENT_NFC_VERIFIED,
    DOCUMENT_VOIDED,
    ID_NAMESPACE,
    RESULT_CHANGED,
    RISK_CLEARED,
    RISK_FLAGGED,
    SELFIE_ADDED,
    SELFIE_VOIDED,
    STATE_CHANGED,
    TRUSTED_DOCUMENT_ADDED,
    USER_DELETED_UPSTREAM,
    USER_ERASED,
    DerivedEvent,
    derived_event,
    derived_event_id,
)

_JSON_TYPE_NAMES: Final = {
    list: "array",
    str: "string",
    int: "number",
    float: "number",
    bool: "boolean",
    type(None): "null",
}

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


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def binary_message_id(ce_id: bytes, ce_source: bytes | None) -> str:
    """The inbox id of a binary-mode event whose `ce_id` or `ce_source` header is not UTF-8
    (as some producers and tracing agents send): the bytes themselves, in base64, so that two
    different byte strings stay two messages and a valid event is not lost to its id. Bounded
    like every id (1-200 bytes each)."""
    if not 1 <= len(ce_id) <= MAX_ID_CHARS:
        raise InvalidInputEvent(f"ce_id header: not 1-{MAX_ID_CHARS} bytes")
    if ce_source is not None and len(ce_source) > MAX_ID_CHARS:
        raise InvalidInputEvent(f"ce_source header: longer than {MAX_ID_CHARS} bytes")
    source = base64.b64encode(ce_source).decode("ascii") if ce_source is not None else ""
    return f"ce-bytes:{source}:{base64.b64encode(ce_id).decode('ascii')}"


def _binary_mode_ids(headers: Headers) -> tuple[str | None, str | None, str | None]:
    """(event id, source, bytes id) of a binary-mode CloudEvent's `ce_id`/`ce_source` headers."""
    ce_id = header(headers, "ce_id") or b""
    ce_source = header(headers, "ce_source")
    if _is_utf8(ce_id) and (ce_source is None or _is_utf8(ce_source)):
        source = checked_id(ce_source, "ce_source header") if ce_source is not None else None
        return checked_id(ce_id, "ce_id header"), source, None
    return None, None, binary_message_id(ce_id, ce_source)


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
        _check_header_keys(headers)
        return _parse_input(
            value, headers, topic=topic, partition=partition, offset=offset, timestamp=timestamp
        )
    except InvalidInputEvent:
        raise
    except Exception as exc:  # RecursionError of deep nesting, MemoryError, a bug: still invalid
        raise InvalidInputEvent(f"message could not be decoded ({type(exc).__name__})") from None


def _check_header_keys(headers: Headers) -> None:
    """Refuse a record with a header key that is not UTF-8 (the consumer's lenient decoding
    carries its bytes as surrogate escapes, which no UTF-8 text holds)."""
    for key, _ in headers:
        if not key.isascii() and not _encodes(key):
            raise HeaderKeyNotUtf8("a header key is not valid UTF-8")


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


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
    bytes_id: str | None = None
    if header(headers, "ce_id") is not None:
        event_id, source, bytes_id = _binary_mode_ids(headers)
    try:
        event = OnboardingCompleted.model_validate(document)
    except ValidationError as exc:
        raise InvalidInputEvent(_describe(exc)) from None
    if event_id is None and event.event_id is not None:
        event_id = checked_id(event.event_id, "event_id")
    return InputEvent(
        user_id=str(event.user_id),
        message_id=bytes_id
        or (
            event_message_id(event_id, source)
            if event_id
            else offset_message_id(topic, partition, offset, timestamp)
        ),
        occurred_at=event.occurred_at,
        kind=kind,
    )


# --- Derived events (output): defined in service.events, re-exported here ----------------------
__all__ = [
    "CE_SOURCE",
    "CE_SPECVERSION",
    "CONTENT_TYPE_JSON",
    "DERIVED_TYPES",
    "DOCUMENT_ADDED",
    "DOCUMENT_NFC_VERIFIED",
    "DOCUMENT_VOIDED",
    "ID_NAMESPACE",
    "RESULT_CHANGED",
    "RISK_CLEARED",
    "RISK_FLAGGED",
    "SELFIE_ADDED",
    "SELFIE_VOIDED",
    "STATE_CHANGED",
    "TRUSTED_DOCUMENT_ADDED",
    "USER_DELETED_UPSTREAM",
    "USER_ERASED",
    "DerivedEvent",
    "derived_event_id",
]


# --- Reconciler: a user deleted at Alice --------------------------------------------------------
def deleted_upstream_event(
    user_id: str,
    *,
    report_id: str | None,
    last_state: str | None,
    last_content_hash: str | None,
    observed_at: datetime,
) -> DerivedEvent:
    """The event of a user Alice no longer knows (404 on state and report): published once.

    Its id depends on the user and the last snapshot seen, so announcing the same deletion
    twice gives the same `ce_id`.
    """
    data = UserDeletedUpstream(user_id=user_id, report_id=report_id, last_state=last_state)
    return derived_event(
        USER_DELETED_UPSTREAM, data, change=last_content_hash or "-", time=observed_at
    )


# --- Erasure (GDPR Art. 17; service/privacy/erasure.py) -----------------------------------------
ONBOARDING_COMPLETED_KIND: Final = "onboarding_completed"
ERASURE_REQUESTED_KIND: Final = "erasure_requested"
ERASURE_REQUESTED_PLAIN: Final = "user.erasure_requested"  # `type` of a plain JSON input
ERASURE_REQUESTED: Final = "onboarding.user.erasure_requested"  # its CloudEvents type


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
    """The original headers (minus earlier dead-letter ones) plus why and where it failed.

    A key that is not UTF-8 (the relay's aiokafka producer cannot publish it as a key) is
    carried as `dlq_key_base64:<base64 of its bytes>`, with its value unchanged.
    """
    kept = [(publishable_key(k), v) for k, v in original if k not in DLQ_HEADERS]
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


DLQ_KEY_BASE64: Final = "dlq_key_base64:"


def publishable_key(key: str) -> str:
    """The header key itself when it is UTF-8 text, else its bytes (kept by the consumer as
    surrogate escapes) as `dlq_key_base64:<base64>`."""
    if key.isascii() or _encodes(key):
        return key
    try:
        raw = key.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a surrogate that is no escaped byte: keep what can be kept
        raw = key.encode("utf-8", "surrogatepass")
    return DLQ_KEY_BASE64 + base64.b64encode(raw).decode("ascii")


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
