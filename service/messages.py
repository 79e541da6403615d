"""The wire contracts: the input event, dead-letter headers, and (from `service.events`) the
derived CloudEvents.

Versioned, frozen models with field descriptions (they feed the AsyncAPI document) and
deterministic ids: deriving the same change twice gives the same CloudEvents `ce_id`.
Pure: standard library and pydantic only.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from service.errors import InvalidInputEvent
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
    DerivedEvent,
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
    "DerivedEvent",
    "derived_event_id",
]


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
