"""The reconciler's schedule SQL on the real PostgreSQL: who is due, in which order, and how a
recorded change starts the backoff again."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from service.reconciler import schedule
from service.settings import Settings
from service.store.database import Database

FIRST_STEP_S = 60.0
MAX_AGE_DAYS = 30


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """The service's database adapter on the session's database."""
    db = Database.from_settings(Settings(alice_api_key="k", database_url=database_url))  # type: ignore[arg-type]
    yield db
    await db.aclose()


@pytest.fixture(autouse=True)
async def _drop_made_users(pg: asyncpg.Connection) -> AsyncIterator[None]:
    """The users a test inserts are deleted afterwards (the session shares one database)."""
    yield
    await pg.execute("DELETE FROM users WHERE user_id = ANY($1::uuid[])", MADE)
    MADE.clear()


MADE: list[str] = []


async def _user(
    pg: asyncpg.Connection,
    state: str | None,
    *,
    changed: str,
    checked: str | None = None,
    next_check: str | None = None,
    snapshot: bool = True,
    reconcile_state: str | None = None,
) -> str:
    """Insert a user whose last change, last check and next check are `now() - interval`s."""
    user_id = str(uuid.uuid4())
    await pg.execute(
        "INSERT INTO users (user_id, state, last_snapshot_id, updated_at, last_checked_at,"
        " next_check_at, reconcile_state) VALUES ($1, $2, $3, now() - $4::text::interval,"
        " now() - $5::text::interval, now() - $6::text::interval, $7)",
        user_id,
        state,
        1 if snapshot else None,
        changed,
        checked,
        next_check,
        reconcile_state,
    )
    MADE.append(user_id)
    return user_id


async def test_due_users_are_the_pending_ones_whose_time_came_oldest_first(
    pg: asyncpg.Connection, database: Database
) -> None:
    """Due: a state not final (unknown and missing states included), a snapshot stored, not
    gone at Alice, a last change younger than the maximum age, and a due time passed, where a
    change recorded after the last check makes the user due one first step after it."""
    never_checked = await _user(pg, "TO_REVIEW", changed="10 minutes")
    changed_since_check = await _user(
        pg, None, changed="5 minutes", checked="10 minutes", next_check="-1 hour"
    )
    backoff_passed = await _user(
        pg, "NEW_STATE", changed="2 days", checked="1 day", next_check="1 minute"
    )
    not_yet = [
        await _user(pg, "TO_REVIEW", changed="10 seconds"),  # the first step not over
        await _user(pg, "IN_PROGRESS", changed="2 days", checked="1 day", next_check="-1 hour"),
        await _user(pg, "ACCEPTED", changed="1 hour"),  # final
        await _user(pg, "REJECTED", changed="1 hour"),  # final
        await _user(pg, "IN_PROGRESS", changed="40 days"),  # too old
        await _user(pg, "TO_REVIEW", changed="1 hour", reconcile_state="deleted_upstream"),
        await _user(pg, "TO_REVIEW", changed="1 hour", snapshot=False),  # nothing recorded
    ]
    mine = {never_checked, changed_since_check, backoff_passed, *not_yet}
    async with database.transaction() as connection:
        due = await schedule.due_users(
            connection, limit=100_000, first_step_s=FIRST_STEP_S, max_age_days=MAX_AGE_DAYS
        )
    assert [u.user_id for u in due if u.user_id in mine] == [
        never_checked,  # due 9 minutes ago
        changed_since_check,  # due 4 minutes ago (its next_check_at is ignored: it changed)
        backoff_passed,  # due 1 minute ago
    ]


async def test_a_check_numbers_itself_and_restarts_the_backoff_after_a_change(
    pg: asyncpg.Connection, database: Database
) -> None:
    """begin_check counts checks, keeps the unchanged-streak unless a change was recorded since
    the last check (then 0), and refuses users that are final or gone at Alice."""
    streak = "UPDATE users SET checks_without_change = 3, check_count = 7 WHERE user_id = $1"
    quiet = await _user(pg, "TO_REVIEW", changed="2 days", checked="1 day", next_check="1 hour")
    changed = await _user(pg, "TO_REVIEW", changed="1 hour", checked="1 day", next_check="1 hour")
    final = await _user(pg, "ACCEPTED", changed="1 hour")
    gone = await _user(pg, "TO_REVIEW", changed="1 hour", reconcile_state="deleted_upstream")
    for user_id in (quiet, changed):
        await pg.execute(streak, user_id)
    async with database.transaction() as connection:
        quiet_check = await schedule.begin_check(connection, quiet)
        changed_check = await schedule.begin_check(connection, changed)
        assert await schedule.begin_check(connection, final) is None
        assert await schedule.begin_check(connection, gone) is None
    assert quiet_check is not None
    assert changed_check is not None
    assert (quiet_check.check_no, quiet_check.checks_without_change) == (8, 3)
    assert (changed_check.check_no, changed_check.checks_without_change) == (8, 0)
    assert changed_check.message_id == f"reconcile:{changed}:8"
