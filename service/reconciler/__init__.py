"""Reconciliation: re-check users not in a final state, since decisions arrive with no event.

- `Reconciler` (loop.py): the background loop, one replica at a time (advisory lock).
- `AliceChecks` (checks.py): every Alice call the reconciler makes, in one adapter.
- policy.py: final states, backoff, when to fetch the full report. Pure.
- schedule.py: the per-user schedule in `users` and the deletion record.
"""

from service.reconciler.checks import AliceChecks, UserStateSource
from service.reconciler.loop import RECONCILE_LOCK_KEY, Reconciler
from service.reconciler.policy import FINAL_STATES, Backoff

__all__ = [
    "FINAL_STATES",
    "RECONCILE_LOCK_KEY",
    "AliceChecks",
    "Backoff",
    "Reconciler",
    "UserStateSource",
]
