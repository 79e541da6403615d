"""An older report fetched after a newer one (two consumers of one user) changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from emulator import AliceEmulator
from service.derive import Thresholds
from service.ingest import Fetched, Ingest, Recorded, content_hash
from service.report import parse_report
from service.store.database import Database
from service.store.repository import MessageRef
from tests.integration.pipeline.conftest import test_data_keys


@pytest.fixture
async def ingest(database_url: str, pg: asyncpg.Connection) -> AsyncIterator[Ingest]:
    """The use case on the session's database, with a topic name of its own."""
    from sqlalchemy.ext.asyncio import create_async_engine  # noqa: PLC0415

    database = Database(engine=create_async_engine(database_url))
    topic = f"stale-out-{uuid.uuid4().hex[:8]}"
    yield Ingest(
        database=database,
        thresholds=Thresholds(),
        output_topic=topic,
        dlq_topic="dlq",
        data_keys=test_data_keys(),
    )
    await database.aclose()
    await pg.execute("DELETE FROM outbox WHERE topic = $1", topic)


def _fetched(user_id: str, body: bytes, n: int) -> Fetched:
    ref = MessageRef(f"stale-test:{user_id}:{n}", "in", 0, n)
    return Fetched(ref, user_id, body, content_hash(body), parse_report(body), datetime.now(UTC))


def _reports(emulator: AliceEmulator, user_id: str, *, with_event: bool) -> tuple[bytes, bytes]:
    """The user's report before and after Alice moved on to ACCEPTED (one more event or not:
    a dashboard decision alone adds none, so the two then differ only by their state)."""
    emulator.create_user(user_id)
    older = emulator.report_bytes(user_id)
    if with_event:
        emulator.add_event(user_id, "review_requested", {"by": "ops"})
    emulator.set_user_state(user_id, "ACCEPTED")
    newer = emulator.report_bytes(user_id)
    added = len(parse_report(newer).report.events) - len(parse_report(older).report.events)
    assert added == (1 if with_event else 0)
    return older, newer


@pytest.mark.parametrize("with_event", [True, False], ids=["new-event", "decision-only"])
@pytest.mark.parametrize("one_batch", [False, True])
async def test_an_older_report_after_a_newer_one_is_stale_and_derives_nothing(
    one_batch: bool,
    with_event: bool,
    ingest: Ingest,
    emulator: AliceEmulator,
    pg: asyncpg.Connection,
) -> None:
    """The second message's fetch returns an older report than the stored one: outcome stale,
    no snapshot, no derived event, the user's state stays ACCEPTED, the inbox says stale."""
    user_id = str(uuid.uuid4())
    older, newer = _reports(emulator, user_id, with_event=with_event)
    first, second = _fetched(user_id, newer, 1), _fetched(user_id, older, 2)
    if one_batch:
        outcomes = await ingest.record([first, second])
    else:
        outcomes = [*await ingest.record([first]), *await ingest.record([second])]

    assert [o.outcome for o in outcomes if isinstance(o, Recorded)] == ["stored", "stale"]
    assert isinstance(outcomes[1], Recorded)
    assert outcomes[1].derived == ()
    snapshots = await pg.fetch(
        "SELECT message_id FROM report_snapshots WHERE user_id = $1", uuid.UUID(user_id)
    )
    assert [r["message_id"] for r in snapshots] == [first.ref.message_id]
    state = await pg.fetchval("SELECT state FROM users WHERE user_id = $1", uuid.UUID(user_id))
    assert state == "ACCEPTED"
    states = await pg.fetch(
        "SELECT payload FROM outbox WHERE user_id = $1 AND event_type = $2 ORDER BY id",
        uuid.UUID(user_id),
        "onboarding.user.state_changed",
    )
    assert len(states) == 1  # the first snapshot's state only, nothing backwards
    inbox = await pg.fetchval(
        "SELECT outcome FROM inbox WHERE message_id = $1", second.ref.message_id
    )
    assert inbox == "stale"
