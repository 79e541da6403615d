"""The use case's port onto Alice: what it needs, not how the client does it."""

from __future__ import annotations

from typing import Protocol


class ReportSource(Protocol):
    """Where reports come from (the Alice client, or a hand-written fake in tests)."""

    async def fetch_report(self, user_id: str) -> bytes:
        """The raw `{"report": {...}}` body for `user_id`, or a `service.errors` exception."""
        ...

    async def healthcheck(self) -> bool:
        """Whether the source answers its health check (never raises)."""
        ...
