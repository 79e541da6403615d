"""The reconciler's decisions, pure: which states are final, when to check next, what to fetch.

A user is re-checked while its state is not final. Only `ACCEPTED` and `REJECTED` are final
(`/work/shared/alice/API.md`: "decision taken"); `IN_PROGRESS`, `TO_REVIEW`, `NOT_STARTED`, a
missing state and any state Alice adds later are not known to be final, so they are checked.
The backoff grows while checks find nothing new and starts again at the first step whenever a
change is recorded (by the reconciler or by an input message).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from service.report.constants import (
    KNOWN_USER_STATES,
    STATE_ACCEPTED,
    STATE_REJECTED,
    USER_STATE_ALIASES,
)

FINAL_STATES: Final = (STATE_ACCEPTED, STATE_REJECTED)
DELETED_UPSTREAM: Final = "deleted_upstream"  # users.reconcile_state of a user gone at Alice

# Check outcomes (the `outcome` label of ingestor_reconcile_checks_total).
UNCHANGED: Final = "unchanged"  # nothing new (state the same, or the report's hash the same)
CHANGED: Final = "changed"  # a new snapshot was recorded through the ingest use case
DELETED: Final = "deleted"  # 404 on state and report: marked and announced
FAILED: Final = "failed"  # a permanent error for this user (logged, backoff grows)
UNAVAILABLE: Final = "unavailable"  # Alice or the database is down: the round stops early


def normalised_state(state: str | None) -> str | None:
    """The state as the report model spells it (`INPROGRESS` reads `IN_PROGRESS`)."""
    return USER_STATE_ALIASES.get(state, state) if state is not None else None


def is_final(state: str | None) -> bool:
    """Whether no further decision is expected for a user in this state."""
    return normalised_state(state) in FINAL_STATES


def state_label(state: str | None) -> str:
    """A bounded metric label for a state: known states by name, the rest `other` / `none`."""
    state = normalised_state(state)
    if state is None:
        return "none"
    return state if state in KNOWN_USER_STATES else "other"


@dataclass(frozen=True, slots=True)
class Backoff:
    """The delays between checks: step k after k checks in a row found nothing new."""

    steps_s: Sequence[float]

    def delay(self, checks_without_change: int) -> timedelta:
        """How long to wait after this many unchanged checks in a row (the last step repeats)."""
        index = min(max(checks_without_change, 0), len(self.steps_s) - 1)
        return timedelta(seconds=self.steps_s[index])

    def next_check(self, now: datetime, checks_without_change: int) -> datetime:
        """When the next check is due."""
        return now + self.delay(checks_without_change)


def needs_report(
    *, stored_state: str | None, alice_state: str, check_no: int, full_report_every: int
) -> bool:
    """Whether a check fetches the full report: the state changed, or every Nth check (scores,
    documents and checks can change without a state change)."""
    if normalised_state(alice_state) != normalised_state(stored_state):
        return True
    return full_report_every > 0 and check_no % full_report_every == 0
