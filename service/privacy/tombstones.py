"""The erasure tombstone: while it holds, onboarding-completed messages of the user are refused.

The rule (README, "Personal data"): for ERASURE_TOMBSTONE_HOURS after an erasure, a report of
the user is never stored (the message is acknowledged with the outcome `erased` and leaves no
row: its inbox claim and the bare user row it created are removed in the same transaction);
afterwards the user is processed as new. This is what makes erasure safe against a message in
flight: the ingest transaction checks the tombstone after taking the user's row lock, which the
erasure transaction holds until it commits, so a report fetched before the erasure can never
be written after it. The tombstone is the erasure's audit row: nothing else keeps the user id.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

ERASED_OUTCOME = "erased"
# The per-user erasure lock: a transaction-scoped advisory lock on the user id. The ingest path
# serialises with erasure through the user's row lock; the dead-letter path takes no row lock
# (a bare user row made for a dead letter would outlive an erasure), so it takes this one, as
# erasure's deleting transaction does, before it looks for the tombstone.
ERASURE_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtextextended(CAST(:u AS text), 7411))"


async def lock_erasure(connection: AsyncConnection, user_id: str) -> None:
    """Wait for an erasure of the user in progress (and hold off a new one) until commit."""
    await connection.execute(text(ERASURE_LOCK_SQL), {"u": user_id})


async def refuse_erased(
    connection: AsyncConnection, user_ids: Sequence[str], *, hours: float
) -> set[str]:
    """The users among these erased less than `hours` ago; their bare user rows are removed.

    Call it after locking the users' rows (a new statement sees an erasure that committed
    while this transaction waited for the lock).
    """
    if not user_ids or hours <= 0:
        return set()
    result = await connection.execute(
        text(
            "SELECT DISTINCT subject FROM privacy_audit WHERE action = 'erase'"
            " AND subject = ANY(CAST(:u AS text[]))"
            " AND at > clock_timestamp() - make_interval(secs => :s)"
        ),
        {"u": sorted(set(user_ids)), "s": hours * 3600.0},
    )
    erased = {row[0] for row in result}
    if erased:
        await connection.execute(
            text(
                "DELETE FROM users WHERE user_id = ANY(CAST(:u AS uuid[]))"
                " AND last_snapshot_id IS NULL"
            ),
            {"u": sorted(erased)},
        )
    return erased
