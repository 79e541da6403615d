"""Input records nobody here wrote: every id bounded and validated the same way, and the
decoder turns any record into an event or a dead-letter reason, never another exception."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from service.errors import InvalidInputEvent
from service.messages import Headers, event_message_id, offset_message_id, parse_input

USER_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
VALUE = json.dumps({"user_id": USER_ID}).encode()


def _parse(value: bytes | None, headers: Headers = (), timestamp: int | None = None) -> str:
    event = parse_input(value, headers, topic="in", partition=0, offset=7, timestamp=timestamp)
    return event.message_id


def _structured(**attributes: object) -> bytes:
    return json.dumps({"specversion": "1.0", **attributes, "data": {"user_id": USER_ID}}).encode()


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        pytest.param(VALUE, [("ce_id", b"\xff" * 300)], "ce_id header: not 1-200", id="long-bin"),
        pytest.param(VALUE, [("ce_id", b"a\x00b")], "control characters", id="nul-in-header"),
        pytest.param(VALUE, [("ce_id", b"x" * 10_000)], "longer than 200", id="10kb-header"),
        pytest.param(VALUE, [("ce_id", b"")], "ce_id header: empty", id="empty-header"),
        pytest.param(
            VALUE, [("ce_id", b"ok"), ("ce_source", b"\xfe" * 300)], "ce_source", id="long-src-b"
        ),
        pytest.param(_structured(id="a\x00b"), [], "id: contains control", id="nul-structured"),
        pytest.param(_structured(id="x" * 10_000), [], "id: longer than", id="10kb-structured"),
        pytest.param(_structured(id="ok", source="s" * 300), [], "source: longer", id="long-src"),
        pytest.param(_structured(id=["a"]), [], "id: not a string", id="list-id"),
        pytest.param(
            b'{"specversion": "1.0", "id": "\\ud800", "data": {"user_id": "%s"}}'
            % USER_ID.encode(),
            [],
            "id: not valid Unicode",
            id="lone-surrogate",
        ),
        pytest.param(
            json.dumps({"user_id": USER_ID, "event_id": "\ud800x"}).encode(),
            [],
            "event_id: Input should be a valid string",
            id="lone-surrogate-event-id",
        ),
        pytest.param(b"[" * 100_000 + b"]" * 100_000, [], "(RecursionError)", id="deep"),
        pytest.param(
            b'{"user_id": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
            [],
            "(RecursionError)",
            id="deep-in-object",
        ),
    ],
)
def test_ids_and_values_nobody_can_store_are_refused_with_a_reason(
    value: bytes, headers: Headers, reason: str
) -> None:
    """An id PostgreSQL or a btree index could not hold, or a value too deep to decode, is an
    invalid input (dead-lettered with this reason), never another exception."""
    with pytest.raises(InvalidInputEvent) as refused:
        _parse(value, headers)
    assert reason in refused.value.reason


def test_two_byte_strings_never_become_one_id() -> None:
    """`\\xff1` and `\\xfe1` (binary ids, as tracing agents send) are two messages, each
    processed under its own bytes, instead of one replacement-character id."""
    first = _parse(VALUE, [("ce_id", b"\xff1")])
    second = _parse(VALUE, [("ce_id", b"\xfe1"), ("ce_source", b"urn:a")])
    assert first == "ce-bytes::/zE="
    assert second == "ce-bytes:dXJuOmE=:/jE="
    assert first != _parse(VALUE, [("ce_id", b"\xfe1")])


def test_the_same_id_from_two_sources_is_two_messages() -> None:
    """CloudEvents ids are unique per source only: the inbox key includes the source."""
    first = _parse(VALUE, [("ce_id", b"1"), ("ce_source", b"urn:a")])
    second = _parse(VALUE, [("ce_id", b"1"), ("ce_source", b"urn:b")])
    structured = _parse(_structured(id="1", source="urn:a"))
    assert first != second
    assert first == structured == "ce:5:urn:a:1"


def test_source_and_id_cannot_be_shifted_into_each_other() -> None:
    """A source ending in ':x' with id 'y' is not the source with id 'x:y'."""
    assert event_message_id("y", "urn:x") != event_message_id("x:y", "urn")


def test_an_offset_id_is_scoped_by_the_record_timestamp() -> None:
    """A record at an old offset of a recreated topic (another timestamp) is another message,
    while a redelivery of the same record (same timestamp) keeps its id."""
    before = _parse(VALUE, timestamp=1_700_000_000_000)
    again = _parse(VALUE, timestamp=1_700_000_000_000)
    recreated = _parse(VALUE, timestamp=1_800_000_000_000)
    assert before == again == "offset:in:0:7@1700000000000"
    assert recreated != before
    assert (
        offset_message_id("in", 0, 7, None) == offset_message_id("in", 0, 7, -1) == "offset:in:0:7"
    )


@settings(max_examples=300, deadline=None)
@given(
    value=st.one_of(
        st.none(),
        st.binary(max_size=300),
        st.recursive(
            st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
            lambda inner: (
                st.lists(inner, max_size=4)
                | st.dictionaries(
                    st.sampled_from(["user_id", "event_id", "id", "source", "data", "specversion"])
                    | st.text(max_size=5),
                    inner,
                    max_size=5,
                )
            ),
            max_leaves=20,
        ).map(lambda d: json.dumps(d).encode()),
    ),
    headers=st.lists(
        st.tuples(
            st.sampled_from(["ce_id", "ce_source", "ce_type", "traceparent"]) | st.text(max_size=5),
            st.none() | st.binary(max_size=40),
        ),
        max_size=4,
    ),
)
def test_any_record_is_an_event_or_an_invalid_input(value: bytes | None, headers: Headers) -> None:
    """Whatever a producer writes, decoding yields an event or InvalidInputEvent: nothing else
    escapes to the intake, and an accepted id is always storable."""
    try:
        message_id = _parse(value, headers)
    except InvalidInputEvent as refused:
        reason = refused.reason
        message_id = None
    if message_id is None:
        assert reason
        return
    assert "\x00" not in message_id
    message_id.encode("utf-8")  # storable text
    assert len(message_id) < 500
