"""The wire contracts: decoding the input event, CloudEvents headers, ids and dead letters."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from service.errors import HeaderKeyNotUtf8, InvalidInputEvent
from service.messages import (
    DLQ_ATTEMPTS,
    DLQ_ERROR_CLASS,
    DLQ_FAILED_AT,
    DLQ_HEADERS,
    DLQ_REASON,
    DLQ_SOURCE_OFFSET,
    DLQ_SOURCE_PARTITION,
    DLQ_SOURCE_TOPIC,
    MAX_REASON_CHARS,
    STATE_CHANGED,
    Headers,
    dead_letter_headers,
    derived_event_id,
    headers_from_json,
    headers_to_json,
    parse_input,
)

USER_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
SECRET = "carmen-secret-value"
TOPIC, PARTITION, OFFSET = "onboarding.completed", 3, 1234
OFFSET_ID = f"offset:{TOPIC}:{PARTITION}:{OFFSET}"


def _json(document: Any) -> bytes:
    return json.dumps(document).encode()


def _parse(value: bytes | None, headers: Headers = ()) -> Any:
    return parse_input(value, headers, topic=TOPIC, partition=PARTITION, offset=OFFSET)


def _binary_headers(ce_id: str) -> list[tuple[str, bytes]]:
    return [
        ("ce_specversion", b"1.0"),
        ("ce_id", ce_id.encode()),
        ("ce_source", b"urn:upstream"),
        ("ce_type", b"onboarding.completed"),
        ("content-type", b"application/json"),
    ]


@pytest.mark.parametrize(
    ("value", "headers", "message_id"),
    [
        pytest.param(_json({"user_id": USER_ID}), [], OFFSET_ID, id="plain-without-event-id"),
        pytest.param(
            _json({"user_id": USER_ID, "event_id": "evt-1"}), [], "event:evt-1", id="event-id"
        ),
        pytest.param(
            _json({"user_id": USER_ID, "extra": {"nested": [1, 2]}, "other": None}),
            [],
            OFFSET_ID,
            id="other-keys-ignored",
        ),
        pytest.param(
            _json({"user_id": USER_ID}),
            _binary_headers("ce-1"),
            "ce:12:urn:upstream:ce-1",
            id="binary-mode",
        ),
        pytest.param(
            _json({"user_id": USER_ID, "event_id": "evt-1"}),
            _binary_headers("ce-1"),
            "ce:12:urn:upstream:ce-1",
            id="binary-mode-ce-id-wins-over-event-id",
        ),
        pytest.param(
            _json(
                {
                    "specversion": "1.0",
                    "id": "structured-1",
                    "source": "urn:upstream",
                    "type": "onboarding.completed",
                    "data": {"user_id": USER_ID},
                }
            ),
            [],
            "ce:12:urn:upstream:structured-1",
            id="structured-mode",
        ),
        pytest.param(
            _json({"specversion": "1.0", "id": "structured-1", "data": {"user_id": USER_ID}}),
            _binary_headers("ce-1"),
            "ce:12:urn:upstream:ce-1",
            id="structured-mode-ce-id-header-wins",
        ),
    ],
)
def test_parse_input_accepts(value: bytes, headers: Headers, message_id: str) -> None:
    """Every accepted shape yields the user id and the id the inbox deduplicates on."""
    event = _parse(value, headers)
    assert event.user_id == USER_ID
    assert event.message_id == message_id


def test_parse_input_canonicalises_user_id() -> None:
    """An uppercase UUID is read as the canonical lowercase user id."""
    event = _parse(_json({"user_id": USER_ID.upper()}))
    assert event.user_id == USER_ID


@pytest.mark.parametrize(
    ("occurred_at", "expected"),
    [
        ("2024-03-05T10:12:52Z", datetime(2024, 3, 5, 10, 12, 52, tzinfo=UTC)),
        (
            "2024-03-05T12:12:52+02:00",
            datetime(2024, 3, 5, 12, 12, 52, tzinfo=timezone(timedelta(hours=2))),
        ),
    ],
)
def test_parse_input_reads_occurred_at(occurred_at: str, expected: datetime) -> None:
    """An RFC 3339 occurred_at with an offset is kept as an aware datetime of the same instant."""
    event = _parse(_json({"user_id": USER_ID, "occurred_at": occurred_at}))
    assert event.occurred_at == expected
    assert event.occurred_at is not None
    assert event.occurred_at.utcoffset() is not None


@pytest.mark.parametrize(
    ("value", "named"),
    [
        pytest.param(None, "empty", id="none"),
        pytest.param(b"", "empty", id="empty"),
        pytest.param(SECRET.encode(), "JSON", id="not-json"),
        pytest.param(b'{"user_id": "' + SECRET.encode() + b'"', "JSON", id="truncated-json"),
        pytest.param(b"\xff\xfe" + SECRET.encode(), "JSON", id="not-utf8"),
        pytest.param(_json([SECRET]), "not an object", id="array"),
        pytest.param(_json(SECRET), "not an object", id="string"),
        pytest.param(_json(42), "not an object", id="number"),
        pytest.param(b"null", "not an object", id="null"),
        pytest.param(_json({"event_id": SECRET}), "user_id", id="missing-user-id"),
        pytest.param(_json({"user_id": SECRET}), "user_id", id="non-uuid-user-id"),
        pytest.param(_json({"user_id": 12345}), "user_id", id="numeric-user-id"),
        pytest.param(
            _json({"user_id": USER_ID, "occurred_at": "2024-03-05T10:12:52"}),
            "occurred_at",
            id="naive-occurred-at",
        ),
        pytest.param(
            _json({"user_id": USER_ID, "occurred_at": SECRET}),
            "occurred_at",
            id="unparseable-occurred-at",
        ),
        pytest.param(
            _json({"specversion": "1.0", "id": SECRET, "data": {"user_id": SECRET}}),
            "user_id",
            id="structured-non-uuid-user-id",
        ),
    ],
)
def test_parse_input_rejects(value: bytes | None, named: str) -> None:
    """A bad message raises InvalidInputEvent whose reason names the problem, never the value."""
    with pytest.raises(InvalidInputEvent) as caught:
        _parse(value)
    reason = caught.value.reason
    assert named in reason
    assert SECRET not in reason
    assert SECRET not in str(caught.value)
    assert caught.value.__cause__ is None


@pytest.mark.parametrize(
    ("one", "other"),
    [
        pytest.param((USER_ID, STATE_CHANGED, "a>b|state"), (USER_ID, STATE_CHANGED, "a>c|state")),
        pytest.param(
            (USER_ID, STATE_CHANGED, "a>b|x"), (USER_ID, "onboarding.result.changed", "a>b|x")
        ),
        pytest.param(
            (USER_ID, STATE_CHANGED, "a>b|x"), (str(uuid.uuid4()), STATE_CHANGED, "a>b|x")
        ),
    ],
    ids=["change", "type", "user"],
)
def test_derived_event_id_is_deterministic_and_distinct(
    one: tuple[str, str, str], other: tuple[str, str, str]
) -> None:
    """The same change gives the same UUID id; a different user, type or change a different one."""
    assert derived_event_id(*one) == derived_event_id(*one)
    assert derived_event_id(*one) != derived_event_id(*other)
    assert uuid.UUID(derived_event_id(*one)).version == 5


def _dead_letter(original: Headers, reason: str = "user_id: Field required") -> Any:
    return dead_letter_headers(
        original,
        error_class="invalid_input",
        reason=reason,
        topic=TOPIC,
        partition=PARTITION,
        offset=OFFSET,
        attempts=2,
        failed_at=datetime(2024, 3, 5, 12, 0, tzinfo=timezone(timedelta(hours=2))),
    )


def test_dead_letter_headers_keep_originals_and_add_where_and_why() -> None:
    """The original headers stay in order, then the error class, reason, source and attempts."""
    original = [("ce_id", b"ce-1"), ("traceparent", b"00-abc-def-01"), ("ce_id", b"ce-2")]
    headers = _dead_letter(original)
    assert headers[: len(original)] == original
    assert dict(headers[len(original) :]) == {
        DLQ_ERROR_CLASS: b"invalid_input",
        DLQ_REASON: b"user_id: Field required",
        DLQ_SOURCE_TOPIC: TOPIC.encode(),
        DLQ_SOURCE_PARTITION: b"3",
        DLQ_SOURCE_OFFSET: b"1234",
        DLQ_ATTEMPTS: b"2",
        DLQ_FAILED_AT: b"2024-03-05T10:00:00+00:00",
    }


def test_dead_letter_headers_replace_earlier_dead_letter_ones() -> None:
    """A replayed dead letter gets one fresh set of dlq_* headers, the earlier set dropped."""
    earlier = _dead_letter([("traceparent", b"t")], reason="earlier failure")
    headers = _dead_letter(earlier)
    names = [name for name, _ in headers]
    assert all(names.count(name) == 1 for name in DLQ_HEADERS)
    assert dict(headers)[DLQ_REASON] == b"user_id: Field required"
    assert headers[0] == ("traceparent", b"t")


def test_dead_letter_headers_truncate_the_reason() -> None:
    """A long reason is cut to the maximum length so a header never carries a whole payload."""
    headers = dict(_dead_letter([], reason="x" * (MAX_REASON_CHARS * 3)))
    assert headers[DLQ_REASON] == b"x" * MAX_REASON_CHARS


def test_event_ids_with_control_characters_are_refused() -> None:
    """An event id or ce_id with a NUL or other control character is invalid input."""
    user = "7b0c3a86-38b7-4c0f-9bd4-5d6a2f1c9e71"
    with pytest.raises(InvalidInputEvent, match="event_id"):
        parse_input(
            json.dumps({"user_id": user, "event_id": "a\u0000b"}).encode(),
            [],
            topic="t",
            partition=0,
            offset=0,
        )
    with pytest.raises(InvalidInputEvent, match="ce_id"):
        parse_input(
            json.dumps({"user_id": user}).encode(),
            [("ce_id", b"a\x00b")],
            topic="t",
            partition=0,
            offset=0,
        )


def test_header_values_are_stored_without_losing_a_byte() -> None:
    """Header values PostgreSQL's JSONB cannot hold as text (NUL, invalid UTF-8) are kept as
    base64, null stays null, and reading them back gives the very same bytes."""
    original = [("x", b"a\x00b"), ("y", b"\xff1"), ("z", b"\xfe1"), ("n", None), ("t", b"ok")]
    stored = headers_to_json(original)
    assert json.loads(json.dumps(stored)) == stored  # plain JSON
    assert "\\u0000" not in json.dumps(stored)
    assert stored[4] == ["t", "ok"]
    assert stored[3] == ["n", None]
    assert headers_from_json(stored) == original


def test_rows_stored_before_bytes_were_kept_still_read() -> None:
    """Header JSON written by the previous version (text pairs) reads back as UTF-8 bytes."""
    assert headers_from_json([["ce_id", "abc"], ["x", "\ufffd"]]) == [
        ("ce_id", b"abc"),
        ("x", "\ufffd".encode()),
    ]


# A header key as the consumer's lenient decoding hands it over (service.record_batches).
BAD_KEY = b"trace-\xff\xfe-id".decode("utf-8", "surrogateescape")


def test_a_header_key_that_is_not_utf8_makes_the_record_invalid() -> None:
    """A valid event under a header key that is not UTF-8 is refused as header_key_not_utf8,
    whatever else the record holds; a non-ASCII key that is UTF-8 is fine."""
    value = _json({"user_id": USER_ID, "event_id": "e-1"})
    with pytest.raises(HeaderKeyNotUtf8) as refused:
        _parse(value, [("ok", b"1"), (BAD_KEY, b"v")])
    assert refused.value.code == "header_key_not_utf8"
    assert isinstance(refused.value, InvalidInputEvent)
    with pytest.raises(HeaderKeyNotUtf8):
        _parse(b"not json", [(BAD_KEY, None)])

    assert _parse(value, [("schlüssel-ключ", b"v")]).user_id == USER_ID


def test_dead_letter_headers_carry_a_key_that_is_not_utf8_as_base64() -> None:
    """A header key that is not UTF-8 becomes dlq_key_base64:<base64 of its bytes>, its value
    and place kept, so the dead letter can be published and nothing of the key is lost."""
    headers = _dead_letter([("a", b"1"), (BAD_KEY, b"\x00v"), ("b", None)])
    assert headers[:3] == [
        ("a", b"1"),
        ("dlq_key_base64:dHJhY2Ut//4taWQ=", b"\x00v"),
        ("b", None),
    ]
    assert all(name.encode("utf-8") for name, _ in headers)
