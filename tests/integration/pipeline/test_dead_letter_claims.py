"""Dead letters and the inbox: one dead letter per record, and a replay is processed."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from emulator import AliceEmulator
from service.derive import Thresholds
from service.errors import AliceUserNotFound
from service.ingest import DeadLetter, Fetched, Ingest, content_hash
from service.report import parse_report
from service.store.database import Database
from service.store.repository import MessageRef
from tests.integration.pipeline.conftest import test_data_keys


@pytest.fixture
async def ingest(database_url: str, pg: asyncpg.Connection) -> AsyncIterator[Ingest]:
    """The use case on the session's database, with topic names of its own."""
    database = Database(engine=create_async_engine(database_url))
    suffix = uuid.uuid4().hex[:8]
    yield Ingest(
        database=database,
        thresholds=Thresholds(),
        output_topic=f"claims-out-{suffix}",
        dlq_topic=f"claims-dlq-{suffix}",
        data_keys=test_data_keys(),
    )
    await database.aclose()
    await pg.execute(
        "DELETE FROM outbox WHERE topic = ANY($1::text[])",
        [f"claims-out-{suffix}", f"claims-dlq-{suffix}"],
    )


def _letter(message_id: str, user_id: str, partition: int, offset: int) -> DeadLetter:
    return DeadLetter(
        ref=MessageRef(message_id, "claims-in", partition, offset),
        key=user_id.encode(),
        value=b'{"user_id": "%s"}' % user_id.encode(),
        headers=(),
        user_id=user_id,
        error=AliceUserNotFound("report: User not found", status=404),
        attempts=1,
    )


async def test_one_dead_letter_per_record_and_a_replay_is_processed_once(
    ingest: Ingest, emulator: AliceEmulator, pg: asyncpg.Connection
) -> None:
    """The original record redelivered is not dead-lettered twice; its replay (a new record,
    same id) is processed, dead-lettered anew if it fails, stored once when it succeeds."""
    user_id = str(uuid.uuid4())
    message_id = f"event:claims-{user_id}"
    original = _letter(message_id, user_id, 0, 5)

    assert (await ingest.dead_letter(original)).outcome == "dead_lettered"
    assert (await ingest.dead_letter(original)).outcome == "duplicate"  # redelivered
    assert await ingest.known([message_id]) == set()  # a replay is not skipped

    replay = _letter(message_id, user_id, 1, 9)  # replayed, still failing
    assert (await ingest.dead_letter(replay)).outcome == "dead_lettered"
    letters = await pg.fetch(
        "SELECT DISTINCT event_id FROM outbox WHERE user_id = $1 AND event_type = 'dead_letter'",
        uuid.UUID(user_id),
    )
    assert len(letters) == 2
    assert (
        await pg.fetchval("SELECT count(*) FROM quarantine WHERE message_id = $1", message_id) == 2
    )

    emulator.create_user(user_id)
    body = emulator.report_bytes(user_id)
    fixed = Fetched(
        MessageRef(message_id, "claims-in", 1, 12),
        user_id,
        body,
        content_hash(body),
        parse_report(body),
        datetime.now(UTC),
    )
    [first] = await ingest.record([fixed])
    [second] = await ingest.record([fixed])  # the replay delivered twice
    assert (getattr(first, "outcome", None), getattr(second, "outcome", None)) == (
        "stored",
        "duplicate",
    )
    assert await ingest.known([message_id]) == {message_id}
    # The original record redelivered once more after all that: still no second dead letter.
    assert (await ingest.dead_letter(original)).outcome == "duplicate"
    assert (
        await pg.fetchval("SELECT outcome FROM inbox WHERE message_id = $1", message_id) == "stored"
    )
    assert (
        await pg.fetchval(
            "SELECT count(*) FROM report_snapshots WHERE user_id = $1", uuid.UUID(user_id)
        )
        == 1
    )
