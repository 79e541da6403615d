"""The reconciler's SQL: due users, the per-user schedule, and recording a deletion at Alice.

Each statement is short and touches one user's row at most, except the due-user scan (no row
locks): the reconciler never holds a user's row while it calls Alice, so an input message for
the same user is never blocked by a check.

A user is due when its state is not final, it is not gone at Alice, its last change is younger
than RECONCILE_MAX_AGE_DAYS, and its due time has passed. The due time is the stored
`next_check_at`, unless a change was recorded since the last check (by either path): then it
is that change plus the first backoff step, and the backoff starts again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.events.kafka import to_kafka
from service.messages import deleted_upstream_event
from service.reconciler.policy import DELETED_UPSTREAM, FINAL_STATES
from service.store import repository as repo
from service.store.repository import MessageRef, OutboxRow

RECONCILE_TOPIC = "reconcile"  # the inbox `topic` of reconciler-made records

# Users waiting for a check, with their due time. The due time is `next_check_at`, unless a
# change was recorded after the last check (either path): then the backoff starts again.
_PENDING = (
    "WITH p AS (SELECT user_id, state, CASE WHEN last_checked_at IS NULL"
    " OR next_check_at IS NULL OR updated_at > last_checked_at"
    " THEN updated_at + make_interval(secs => :first_step_s) ELSE next_check_at END AS due"
    " FROM users WHERE reconcile_state IS NULL AND last_snapshot_id IS NOT NULL"
    " AND (state IS NULL OR state <> ALL(CAST(:final AS text[])))"
    " AND updated_at > now() - make_interval(days => :max_age_days)) "
)
# Two constants joined at import time: no input is ever formatted into SQL here.
_DUE_SQL = _PENDING + "SELECT user_id, state FROM p WHERE due <= now() ORDER BY due LIMIT :n"  # noqa: S608
_PENDING_SQL = _PENDING + (  # noqa: S608
    "SELECT state, count(*), COALESCE(EXTRACT(EPOCH FROM max(now() - due)"
    " FILTER (WHERE due <= now())), 0) FROM p GROUP BY state"
)


@dataclass(frozen=True, slots=True)
class DueUser:
    """A user whose check is due."""

    user_id: str
    state: str | None


@dataclass(frozen=True, slots=True)
class Check:
    """A check begun: its number, the backoff step it starts from, what is stored of the user."""

    user_id: str
    check_no: int
    checks_without_change: int
    state: str | None

    @property
    def message_id(self) -> str:
        """The inbox id of whatever this check records: it says the reconciler made it."""
        return f"reconcile:{self.user_id}:{self.check_no}"

    @property
    def ref(self) -> MessageRef:
        """Where the record came from, as the inbox stores it."""
        return MessageRef(self.message_id, RECONCILE_TOPIC, 0, self.check_no)


@dataclass(frozen=True, slots=True)
class Pending:
    """Users waiting for reconciliation, by state, and how overdue the oldest due check is."""

    by_state: dict[str | None, int]
    oldest_due_age_s: float


def _params(first_step_s: float, max_age_days: int) -> dict[str, object]:
    return {
        "first_step_s": first_step_s,
        "max_age_days": max_age_days,
        "final": list(FINAL_STATES),
    }


async def due_users(
    connection: AsyncConnection, *, limit: int, first_step_s: float, max_age_days: int
) -> list[DueUser]:
    """The users whose check is due, the longest overdue first."""
    rows = await connection.execute(
        text(_DUE_SQL),
        {**_params(first_step_s, max_age_days), "n": limit},
    )
    return [DueUser(str(user_id), state) for user_id, state in rows]


async def pending(
    connection: AsyncConnection, *, first_step_s: float, max_age_days: int
) -> Pending:
    """Counts of users waiting for reconciliation (due or not) and the oldest due check's age."""
    rows = (
        await connection.execute(
            text(_PENDING_SQL),
            _params(first_step_s, max_age_days),
        )
    ).all()
    return Pending(
        by_state={state: int(count) for state, count, _ in rows},
        oldest_due_age_s=max((float(age) for _, _, age in rows), default=0.0),
    )


async def begin_check(connection: AsyncConnection, user_id: str) -> Check | None:
    """Number the check and note its time; None if the user is no longer reconciled (gone at
    Alice, or final since it was found due: an input message may have recorded a decision)."""
    row = (
        await connection.execute(
            text(
                "UPDATE users SET check_count = check_count + 1, checks_without_change ="
                " CASE WHEN last_checked_at IS NULL OR next_check_at IS NULL"
                " OR updated_at > last_checked_at THEN 0"
                " ELSE checks_without_change END, last_checked_at = clock_timestamp()"
                " WHERE user_id = CAST(:u AS uuid) AND reconcile_state IS NULL"
                " AND (state IS NULL OR state <> ALL(CAST(:final AS text[])))"
                " RETURNING check_count, checks_without_change, state"
            ),
            {"u": user_id, "final": list(FINAL_STATES)},
        )
    ).first()
    if row is None:
        return None
    return Check(user_id, int(row[0]), int(row[1]), row[2])


async def finish_check(
    connection: AsyncConnection,
    user_id: str,
    *,
    checks_without_change: int,
    next_check_at: datetime,
) -> None:
    """Store the user's backoff step and next due time."""
    await connection.execute(
        text(
            "UPDATE users SET checks_without_change = :n, next_check_at = :at"
            " WHERE user_id = CAST(:u AS uuid)"
        ),
        {"u": user_id, "n": checks_without_change, "at": next_check_at},
    )


async def record_deletion(
    connection: AsyncConnection, check: Check, *, output_topic: str, observed_at: datetime
) -> bool:
    """Mark the user gone at Alice and queue `onboarding.user.deleted_upstream`, once.

    The user's row is locked first, so two checks (or two replicas) cannot both announce it;
    the event's id is deterministic and the outbox refuses a second row with it anyway.
    Returns whether this call marked the user.
    """
    row = (
        await connection.execute(
            text(
                "SELECT reconcile_state, state, last_content_hash, digest ->> 'report_id'"
                " FROM users WHERE user_id = CAST(:u AS uuid) FOR UPDATE"
            ),
            {"u": check.user_id},
        )
    ).first()
    if row is None or row[0] == DELETED_UPSTREAM:
        return False
    _, state, content_hash, report_id = row
    event = deleted_upstream_event(
        check.user_id,
        report_id=report_id,
        last_state=state,
        last_content_hash=bytes(content_hash).hex() if content_hash is not None else None,
        observed_at=observed_at,
    )
    headers, payload = to_kafka(event)
    await connection.execute(
        text(
            "UPDATE users SET reconcile_state = :deleted, deleted_upstream_at = :at,"
            " next_check_at = NULL WHERE user_id = CAST(:u AS uuid)"
        ),
        {"u": check.user_id, "deleted": DELETED_UPSTREAM, "at": observed_at},
    )
    claimed = await repo.claim_messages(connection, [check.ref], [check.user_id])
    await repo.write_changes(
        connection,
        snapshots=[],
        events=[],
        outbox=[
            OutboxRow(
                event_id=event.id,
                topic=output_topic,
                key=check.user_id.encode(),
                headers=list(headers),
                payload=payload,
                event_type=event.type,
                user_id=check.user_id,
            )
        ],
        users=[],
        outcomes=[(m, DELETED_UPSTREAM) for m in claimed],
    )
    return True
