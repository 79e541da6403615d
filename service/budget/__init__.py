"""One budget for every Alice call of the process: a rate, an adaptive concurrency, a breaker.

- `AliceBudget` (gate.py): the one gate every HTTP attempt passes (`acquire(priority)`), with
  a priority queue so that background callers (the reconciler) get only what the pipeline leaves.
- `Priority`, `Permit`, `Held`, `BudgetObserver` (permits.py): what callers hold and see.
- `TokenBucket` (bucket.py): ALICE_MAX_REQUESTS_PER_S, with a small burst.
- `AdaptiveLimit` (aimd.py): concurrency that halves on overload and grows back slowly (AIMD).
- `CircuitBreaker` (breaker.py): opens when failures across users say "outage"; then one probe
  at a time, at a slow rate, until one succeeds.
The parts are pure (a clock is passed in); only the gate touches asyncio.
"""

from service.budget.aimd import AdaptiveLimit
from service.budget.breaker import BreakerState, CircuitBreaker
from service.budget.bucket import TokenBucket
from service.budget.gate import AliceBudget
from service.budget.permits import BudgetObserver, Held, Permit, Priority

__all__ = [
    "AdaptiveLimit",
    "AliceBudget",
    "BreakerState",
    "BudgetObserver",
    "CircuitBreaker",
    "Held",
    "Permit",
    "Priority",
    "TokenBucket",
]
