"""The CLI quiets logging for its process: restore it after each test, for the tests after."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Put structlog's and the root logger's configuration back as they were."""
    saved = structlog.get_config()
    root = logging.getLogger()
    level, handlers = root.level, root.handlers[:]
    yield
    structlog.configure(**saved)
    root.setLevel(level)
    root.handlers[:] = handlers
