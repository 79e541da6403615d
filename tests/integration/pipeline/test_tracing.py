"""Tracing: one trace from the input's headers through Alice, the database and the outbox, and
on to the derived events' headers."""

from __future__ import annotations

import uuid

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from emulator import AliceEmulator
from service.app import build_service
from tests.integration.pipeline.conftest import (
    FIRST_EVENTS,
    Producer,
    ReaderFactory,
    SettingsFactory,
    Topics,
    create_plain_user,
    distinct_types,
)

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


async def test_trace_context_flows_from_input_to_derived_events(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    read_topic: ReaderFactory,
    topics: Topics,
) -> None:
    """A traceparent on the input continues through the consume, Alice, database and outbox
    spans, and the derived events carry a traceparent of the same trace."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    user_id = str(uuid.uuid4())
    expected = create_plain_user(emulator, user_id)
    output = await read_topic(topics.output)
    service = build_service(make_settings(), tracing=provider)
    async with service.app:
        await producer.send(
            {"user_id": user_id, "event_id": f"trace-{uuid.uuid4().hex}"},
            headers=[("traceparent", TRACEPARENT.encode())],
        )
        records = await output.wait_for(expected)

    spans = exporter.get_finished_spans()
    names = {span.name for span in spans}
    assert {"alice fetch_report", "db record", "outbox publish"} <= names, names
    message_spans = [s for s in spans if s.name in ("alice fetch_report", "db record")]
    assert {format(s.context.trace_id, "032x") for s in message_spans} == {TRACE_ID}
    assert list(distinct_types(records)) == list(FIRST_EVENTS)
    for record in records:
        traceparent = record.headers["traceparent"].decode()
        assert traceparent.split("-")[1] == TRACE_ID
