"""OpenTelemetry tracing: off unless OTEL_EXPORTER_OTLP_ENDPOINT is set.

FastStream's Kafka telemetry middleware opens a span per consumed batch and propagates the
context through Kafka headers (the aiokafka instrumentor is deliberately not added as well: it
would double every span).
"""

from __future__ import annotations

from typing import Any

from service.settings import Settings


def telemetry_middleware(settings: Settings) -> Any | None:
    """The middleware with an OTLP/HTTP exporter, or None when tracing is off."""
    if not settings.otel_exporter_otlp_endpoint:
        return None
    from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware  # noqa: PLC0415
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
        OTLPSpanExporter,
    )
    from opentelemetry.sdk.resources import Resource  # noqa: PLC0415
    from opentelemetry.sdk.trace import TracerProvider  # noqa: PLC0415
    from opentelemetry.sdk.trace.export import BatchSpanProcessor  # noqa: PLC0415

    provider = TracerProvider(
        resource=Resource.create({"service.name": settings.otel_service_name})
    )
    endpoint = settings.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    return KafkaTelemetryMiddleware(tracer_provider=provider)
