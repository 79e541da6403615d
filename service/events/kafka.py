"""The CloudEvents Kafka binding (binary mode) of derived events, by the official SDK.

`cloudevents` 2.x builds the record: attributes as `ce_*` headers (`datacontenttype` as
`content-type`), the data as the JSON value. Its cost, measured with timeit on 10,000 events,
is about 33 us per event against 18 us for the hand-written binding it replaced: well under 1 %
of the service's CPU per input event (1.4-2.0 ms, README), for a binding kept by the spec's own
maintainers.
"""

from __future__ import annotations

from datetime import UTC
from typing import Final

from cloudevents.core.bindings.kafka import KafkaMessage, from_binary, to_binary
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from service.events.envelope import CE_SOURCE, CE_SPECVERSION, CONTENT_TYPE_JSON, DerivedEvent

_FORMAT: Final = JSONFormat()


def to_cloudevent(event: DerivedEvent) -> CloudEvent:
    """The SDK's CloudEvent of a derived event (attributes validated by the SDK)."""
    return CloudEvent(
        attributes={
            "specversion": CE_SPECVERSION,
            "id": event.id,
            "source": CE_SOURCE,
            "type": event.type,
            "time": event.time.astimezone(UTC),  # the SDK writes UTC as ...Z
            "subject": event.user_id,
            "datacontenttype": CONTENT_TYPE_JSON,
            "dataschema": event.dataschema,
        },
        data=event.data,
    )


def to_kafka(event: DerivedEvent) -> tuple[list[tuple[str, bytes]], bytes]:
    """The Kafka headers and value of a derived event (binary content mode)."""
    message = to_binary(to_cloudevent(event), _FORMAT)
    return list(message.headers.items()), message.value


def from_kafka(headers: list[tuple[str, bytes]], value: bytes) -> CloudEvent:
    """Decode a binary-mode record with the SDK (for consumers, tools and contract tests)."""
    event = from_binary(KafkaMessage(headers=dict(headers), key=None, value=value), _FORMAT)
    if not isinstance(event, CloudEvent):  # pragma: no cover - specversion 0.3 records
        raise TypeError("not a CloudEvents 1.0 record")
    return event
