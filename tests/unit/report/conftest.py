"""Fixtures of the report tests: the synthetic example report, as bytes and as a dict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

EXAMPLE_PATH = Path(__file__).resolve().parents[2] / "data" / "report-example.json"
EXAMPLE_BYTES = EXAMPLE_PATH.read_bytes()


def example_envelope() -> dict[str, Any]:
    """A fresh, mutable copy of the example's `{"report": {...}}` envelope."""
    envelope: dict[str, Any] = json.loads(EXAMPLE_BYTES)
    return envelope


def encode(envelope: Any) -> bytes:
    """A body as Alice would send it: UTF-8 JSON, non-ASCII characters unescaped."""
    return json.dumps(envelope, ensure_ascii=False).encode()


@pytest.fixture
def example_bytes() -> bytes:
    """The example report body exactly as stored."""
    return EXAMPLE_BYTES


@pytest.fixture
def envelope() -> dict[str, Any]:
    """A mutable copy of the example envelope for a test to alter."""
    return example_envelope()
