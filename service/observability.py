"""Logging set-up: structlog JSON lines on stdout, standard-library logs routed through it.

Log lines carry ids, outcomes and timings; never a report body, a token or an API key (the Alice
client and the processor log only classes, statuses and ids).
"""

from __future__ import annotations

import logging
import sys

import structlog
from opentelemetry import trace


def add_trace_context(
    logger: object, method: str, event: structlog.types.EventDict
) -> structlog.types.EventDict:
    """Add the current OpenTelemetry trace and span ids, when a span is recording."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    return event


def configure_logging(level: str = "INFO", *, json: bool = True) -> None:
    """JSON (or console) lines on stdout for structlog and the standard library alike."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_trace_context,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.format_exc_info,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Library chatter stays at WARNING: aiokafka's and httpx's INFO lines add nothing per message.
    for noisy in ("aiokafka", "httpx", "httpcore", "faststream", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
