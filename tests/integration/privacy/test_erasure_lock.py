"""Erasure against a dead letter of the same user: the dead-letter transaction waits for an
erasure in progress and then meets its tombstone, leaving nothing of the user behind."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from service.derive import Thresholds
from service.errors import AliceUserNotFound
from service.ingest import DeadLetter, Ingest
from service.privacy.tombstones import ERASED_OUTCOME, ERASURE_LOCK_SQL
from service.store.database import Database
from service.store.repository import MessageRef
from tests.integration.pipeline.conftest import eventually, test_data_keys


@pytest.fixture
async def ingest(database_url: str) -> AsyncIterator[Ingest]:
    """The use case on the session's database, with topic names of its own."""
    database = Database(engine=create_async_engine(database_url))
    suffix = uuid.uuid4().hex[:8]
    yield Ingest(
        database=database,
        thresholds=Thresholds(),
        output_topic=f"lock-out-{suffix}",
        dlq_topic=f"lock-dlq-{suffix}",
        data_keys=test_data_keys(),
    )
    await database.aclose()


async def _waiting_on_advisory_lock(pg: asyncpg.Connection) -> bool:
    waiting = await pg.fetchval(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
    )
    return bool(waiting)


async def test_a_dead_letter_waits_for_an_erasure_in_progress_then_meets_its_tombstone(
    ingest: Ingest, database_url: str, pg: asyncpg.Connection
) -> None:
    """While an erasure's deleting transaction holds the user's erasure lock, a dead letter of
    that user waits; once the erasure commits (with its tombstone), the dead letter is refused:
    no quarantine row, no data key, no outbox row for the user."""
    user_id = str(uuid.uuid4())
    letter = DeadLetter(
        ref=MessageRef(f"event:lock-{user_id}", "lock-in", 0, 1),
        key=user_id.encode(),
        value=json.dumps({"user_id": user_id}).encode(),
        headers=[],
        user_id=user_id,
        error=AliceUserNotFound("Alice does not know the user"),
        attempts=1,
    )
    eraser = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        erasing = eraser.transaction()
        await erasing.start()
        await eraser.execute(ERASURE_LOCK_SQL.replace(":u", "$1"), user_id)
        dead_letter = asyncio.create_task(ingest.dead_letter(letter))
        await eventually(lambda: _waiting_on_advisory_lock(pg), timeout=30)
        assert not dead_letter.done()
        await eraser.execute(
            "INSERT INTO privacy_audit (action, actor, subject, request_id)"
            " VALUES ('erase', 'test', $1, 'lock-test')",
            user_id,
        )
        await erasing.commit()
        outcome = await asyncio.wait_for(dead_letter, timeout=30)
    finally:
        await eraser.close()
    assert outcome.outcome == ERASED_OUTCOME
    for table in ("quarantine", "data_keys", "outbox", "users"):
        query = f"SELECT count(*) FROM {table} WHERE user_id::text = $1"  # noqa: S608 - fixed names
        assert await pg.fetchval(query, user_id) == 0, table
