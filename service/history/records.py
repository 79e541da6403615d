"""What the history reads from the database, as plain records (filled by `store.py`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class UserRecord:
    """The user's row: current state and reconciliation status."""

    user_id: str
    state: str | None
    reconcile_state: str | None
    deleted_upstream_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    """One stored snapshot with its report body (the `report` object Alice sent)."""

    id: int
    report_id: str
    state: str | None
    message_id: str
    stored_at: datetime
    report_created_at: datetime | None
    report: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Location:
    """Where a record was read: the inbox's or the quarantine's (topic, partition, offset)."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    """A queued record about the user: a derived event or a dead letter."""

    event_id: str
    event_type: str
    created_at: datetime
    sent_at: datetime | None
    parked_at: datetime | None

    @property
    def status(self) -> str:
        """`sent`, `parked` (Kafka refused it for good) or `queued`."""
        if self.sent_at is not None:
            return "sent"
        return "parked" if self.parked_at is not None else "queued"
