"""OpenTelemetry tracing: off unless OTEL_EXPORTER_OTLP_ENDPOINT is set (or a test passes a
tracer provider).

Spans: FastStream's Kafka telemetry middleware opens one per consumed batch and reads the
context from the input's Kafka headers; under it the processor opens `alice fetch_report` and
`db record` per message; the relay opens `outbox publish` per round. Derived events carry the
W3C `traceparent` of the message they came from in their Kafka headers, so consumers continue
the trace. The aiokafka instrumentor is deliberately not added: it would double every span.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.sdk.trace import TracerProvider

from service.settings import Settings

TRACER_NAME = "alice-report-ingestor"


def tracer_provider(settings: Settings) -> TracerProvider | None:
    """A provider exporting over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT, or None (off)."""
    if not settings.otel_exporter_otlp_endpoint:
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )
    from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415

    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.otel_service_name})
    )
    endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return provider


def telemetry_middleware(provider: TracerProvider | None) -> Any | None:
    """FastStream's Kafka telemetry middleware on this provider, or None when tracing is off."""
    if provider is None:
        return None
    from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware  # noqa: PLC0415

    return KafkaTelemetryMiddleware(tracer_provider=provider)


def tracer(provider: TracerProvider | None) -> trace.Tracer:
    """The service's tracer (a no-op one when tracing is off)."""
    if provider is None:
        return trace.NoOpTracer()
    return provider.get_tracer(TRACER_NAME)


def trace_headers() -> tuple[tuple[str, bytes], ...]:
    """The current trace context as Kafka headers (`traceparent`, `tracestate`), if any."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return tuple((key, value.encode()) for key, value in carrier.items())
