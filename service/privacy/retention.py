"""Retention (GDPR Art. 5(1)(e)): what is due for deletion, counted or deleted in bounded batches.

Due, per table (ages from the settings, README "Personal data"):
- report_snapshots: superseded (the user has a newer snapshot) and stored more than
  SNAPSHOT_RETENTION_DAYS ago; each user's latest snapshot always stays;
- quarantine: created more than QUARANTINE_RETENTION_DAYS ago;
- user_events: occurred more than USER_EVENT_RETENTION_DAYS ago (an event without a date: when
  the snapshot that first listed it was stored);
- outbox: erasure notices once published (they name an erased user; other sent rows go after a
  day, with the relay's retention).
Each batch is its own short transaction (RETENTION_BATCH rows), like the relay's retention, so
a large backlog never makes one long transaction. `RetentionTask` runs it periodically in the
service; `python -m service retention --apply` runs the same from a CronJob.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, Final

import structlog
from sqlalchemy import text

from service.messages import USER_ERASED
from service.store.database import Database

log = structlog.get_logger(__name__)

RETENTION_BATCH: Final = 5_000


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """How long each kind of personal data is kept, in days."""

    snapshot_days: int
    quarantine_days: int
    user_event_days: int


# Table -> (key column, condition of a due row).
DUE: Final[dict[str, tuple[str, str]]] = {
    "report_snapshots": (
        "id",
        "stored_at < now() - make_interval(days => :snapshot_days) AND EXISTS (SELECT 1 FROM"
        " report_snapshots newer WHERE newer.user_id = t.user_id AND newer.id > t.id)",
    ),
    "quarantine": ("id", "created_at < now() - make_interval(days => :quarantine_days)"),
    "user_events": (
        "event_id",
        "coalesce(occurred_on, (SELECT stored_at FROM report_snapshots s"
        " WHERE s.id = t.first_snapshot_id), now())"
        " < now() - make_interval(days => :user_event_days)",
    ),
    "outbox": ("id", f"event_type = '{USER_ERASED}' AND sent_at IS NOT NULL"),
}


def _parameters(policy: RetentionPolicy) -> dict[str, Any]:
    return {
        "snapshot_days": policy.snapshot_days,
        "quarantine_days": policy.quarantine_days,
        "user_event_days": policy.user_event_days,
        "n": RETENTION_BATCH,
    }


async def count_due(database: Database, policy: RetentionPolicy) -> dict[str, int]:
    """How many rows of each table are due (a dry run: nothing is deleted)."""
    counts = {}
    async with database.transaction() as connection:
        for table, (_, condition) in DUE.items():
            sql = f"SELECT count(*) FROM {table} t WHERE {condition}"  # noqa: S608 - fixed names
            counts[table] = int(
                (await connection.execute(text(sql), _parameters(policy))).scalar_one()
            )
    return counts


async def delete_due(database: Database, policy: RetentionPolicy) -> dict[str, int]:
    """Delete what is due, batch by batch; how many rows of each table were deleted."""
    counts = {}
    for table, (key, condition) in DUE.items():
        sql = (
            f"DELETE FROM {table} WHERE {key} IN"  # noqa: S608 - fixed table and column names
            f" (SELECT {key} FROM {table} t WHERE {condition} LIMIT :n)"
        )
        deleted = 0
        while True:
            async with database.transaction() as connection:
                result = await connection.execute(text(sql), _parameters(policy))
            count = int(getattr(result, "rowcount", 0) or 0)
            deleted += count
            if count < RETENTION_BATCH:
                break
        counts[table] = deleted
    return counts


class RetentionTask:
    """Applies the retention policy every `interval_s` seconds while the service runs."""

    def __init__(self, *, database: Database, policy: RetentionPolicy, interval_s: float) -> None:
        self._database = database
        self._policy = policy
        self._interval_s = interval_s
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the periodic loop (the first run after one interval)."""
        self._task = asyncio.create_task(self._run(), name="privacy-retention")

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval_s)
            try:
                counts = await delete_due(self._database, self._policy)
            except Exception as exc:  # the next run tries again; the service goes on
                log.warning("retention failed", error_type=type(exc).__name__)
                continue
            log.info("retention applied", **{f"deleted_{t}": n for t, n in counts.items()})

    async def stop(self) -> None:
        """Stop the loop (a run in progress is cancelled; its batches are each atomic)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
