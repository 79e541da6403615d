"""Fixtures of the history tests: the pipeline's (emulator, topics, settings, producer)."""

from __future__ import annotations

from tests.integration.pipeline.conftest import (  # noqa: F401 - fixtures shared with the pipeline tests
    emulator,
    make_settings,
    producer,
    topics,
)
