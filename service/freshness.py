"""Which of two reports of one user is newer, from the reports' own facts, not fetch order.

Two consumers can handle one user at once (a producer that does not key by user id, a
rebalance window): the report fetched last is then not always the newest, and storing it
would move the user's state backwards and derive a state change that never happened.

A report carries its ordering facts: `version`, `created_at`, and its `events`, which Alice
only ever appends to (so the newest event time and their number only grow). Compared in
that order, the first fact both reports have and that differs decides. A report that no fact
shows older is taken as newer (fetch order is then all there is). A report older than the
stored one is recorded as outcome `stale`: no snapshot, no user events, no derived event, the
user's state untouched; its inbox row says `stale` and `ingestor_messages_total{outcome=
"stale"}` counts it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from service.report.model import Report


@dataclass(frozen=True, slots=True)
class ReportOrder:
    """The ordering facts of one report (None: the report does not say)."""

    version: int | None
    created_at: datetime | None
    last_event_at: datetime | None
    events: int | None

    @classmethod
    def of(cls, report: Report) -> ReportOrder:
        """The facts of a validated report."""
        times = [e.occurred_on for e in report.events if e.occurred_on is not None]
        return cls(report.version, report.created_at, max(times, default=None), len(report.events))

    def older_than(self, stored: ReportOrder | None) -> bool:
        """Whether this report is older than the stored one (the first differing fact says)."""
        if stored is None:
            return False
        facts: tuple[tuple[int | datetime | None, int | datetime | None], ...] = (
            (self.version, stored.version),
            (self.created_at, stored.created_at),
            (self.last_event_at, stored.last_event_at),
            (self.events, stored.events),
        )
        for mine, theirs in facts:
            if mine is not None and theirs is not None and mine != theirs:
                return mine < theirs  # type: ignore[operator]  # both of one type, by position
        return False
