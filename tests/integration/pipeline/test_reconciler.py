"""The reconciler end to end: decisions and deletions that arrive at Alice with no event reach
the output topic once, through the same recording path as input messages."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import asyncpg
import pytest

from emulator import AliceEmulator
from service.ingest import Fetched, Recorded, content_hash
from service.reconciler import Reconciler
from service.reconciler.policy import CHANGED, DELETED, UNCHANGED
from service.reconciler.schedule import RECONCILE_TOPIC, DueUser
from service.store.repository import MessageRef
from tests.integration.pipeline.conftest import (
    Producer,
    ReaderFactory,
    Received,
    SettingsFactory,
    TopicReader,
    Topics,
    eventually,
    metric,
    running,
)

STATE = b"onboarding.user.state_changed"
DELETED_UPSTREAM = b"onboarding.user.deleted_upstream"
FAST = {"reconcile_interval_s": 1.0, "reconcile_backoff_s": (1.0, 2.0)}


@pytest.fixture(autouse=True)
async def _only_this_tests_users(pg: asyncpg.Connection) -> AsyncIterator[None]:
    """Users of earlier tests (the session shares one database) belong to other emulators:
    they are left out of reconciliation while this test runs, and put back afterwards."""
    await pg.execute(
        "UPDATE users SET reconcile_state = 'other_test' WHERE reconcile_state IS NULL"
    )
    yield
    await pg.execute("UPDATE users SET reconcile_state = NULL WHERE reconcile_state = 'other_test'")


def _of(reader: TopicReader, user_id: str, ce_type: bytes) -> list[Received]:
    key = user_id.encode()
    return [r for r in reader.records if r.key == key and r.headers.get("ce_type") == ce_type]


async def _arrives(reader: TopicReader, user_id: str, ce_type: bytes, count: int) -> None:
    async def enough() -> bool:
        return len(_of(reader, user_id, ce_type)) >= count

    await eventually(enough, timeout=60.0)


async def _sentinel_passes(
    producer: Producer, emulator: AliceEmulator, reader: TopicReader
) -> None:
    """Publish an input event for a fresh user and wait for its state_changed: anything the
    subject's recording queued in the outbox before it has been published by then."""
    sentinel = str(uuid.uuid4())
    emulator.create_user(sentinel, state="TO_REVIEW")
    await producer.send({"user_id": sentinel, "event_id": f"sentinel-{sentinel}"})
    await _arrives(reader, sentinel, STATE, 1)


async def _processed(producer: Producer, reader: TopicReader, user_id: str) -> None:
    await producer.send({"user_id": user_id, "event_id": f"completed-{user_id}"})
    await _arrives(reader, user_id, STATE, 1)


async def test_decision_without_event_is_published_once_with_two_replicas(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    read_topic: ReaderFactory,
    topics: Topics,
    pg: asyncpg.Connection,
) -> None:
    """A user processed at TO_REVIEW and then accepted at Alice with no event yields one
    state_changed TO_REVIEW -> ACCEPTED, recorded under a reconciler message id, even with two
    service instances (and two reconcilers) running."""
    user_id = str(uuid.uuid4())
    emulator.create_user(user_id, state="TO_REVIEW")
    output = await read_topic(topics.output)
    settings = make_settings(reconcile_enabled=True, **FAST)
    async with AsyncExitStack() as stack:
        replicas = [await stack.enter_async_context(running(settings)) for _ in range(2)]
        await _processed(producer, output, user_id)
        emulator.set_user_state(user_id, "ACCEPTED")
        await _arrives(output, user_id, STATE, 2)
        await _sentinel_passes(producer, emulator, output)
        changes = [r.json() for r in _of(output, user_id, STATE)]
        assert [(c["from"], c["to"]) for c in changes] == [
            (None, "TO_REVIEW"),
            ("TO_REVIEW", "ACCEPTED"),
        ]
        message_ids = await pg.fetch(
            "SELECT message_id FROM report_snapshots WHERE user_id = $1 ORDER BY id", user_id
        )
        assert message_ids[0]["message_id"] == f"event:completed-{user_id}"
        assert message_ids[1]["message_id"].startswith(f"reconcile:{user_id}:")
        assert len(message_ids) == 2
        outbox = await pg.fetchval(
            "SELECT count(*) FROM outbox WHERE user_id = $1 AND event_type = $2",
            user_id,
            STATE.decode(),
        )
        assert outbox == 2
        assert await pg.fetchval("SELECT state FROM users WHERE user_id = $1", user_id) == (
            "ACCEPTED"
        )
        changes_found = [metric(r, "ingestor_reconcile_changes_total") for r in replicas]
        assert sum(changes_found) == 1


async def test_user_deleted_at_alice_is_marked_and_announced_once(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    read_topic: ReaderFactory,
    topics: Topics,
    pg: asyncpg.Connection,
) -> None:
    """A user Alice answers 404 for (state and report) is marked deleted upstream, announced by
    one onboarding.user.deleted_upstream, no longer checked, and never dead-lettered."""
    user_id = str(uuid.uuid4())
    emulator.create_user(user_id, state="TO_REVIEW")
    output = await read_topic(topics.output)
    async with running(make_settings(reconcile_enabled=True, **FAST)) as service:
        await _processed(producer, output, user_id)
        report_id = _of(output, user_id, STATE)[0].json()["report_id"]
        emulator.delete_user(user_id)
        await _arrives(output, user_id, DELETED_UPSTREAM, 1)
        await _sentinel_passes(producer, emulator, output)
        deleted_checks = metric(service, "ingestor_reconcile_checks_total", outcome=DELETED)
        assert deleted_checks == 1
        # Another round runs while the user stays deleted: it does not check the user again.
        assert await service.reconciler.run_once() is not None
        await _sentinel_passes(producer, emulator, output)
        announced = _of(output, user_id, DELETED_UPSTREAM)
        assert [r.json() for r in announced] == [
            {"user_id": user_id, "report_id": report_id, "last_state": "TO_REVIEW"}
        ]
        assert metric(service, "ingestor_reconcile_checks_total", outcome=DELETED) == 1
    row = await pg.fetchrow(
        "SELECT reconcile_state, deleted_upstream_at FROM users WHERE user_id = $1", user_id
    )
    assert row["reconcile_state"] == "deleted_upstream"
    assert row["deleted_upstream_at"] is not None
    assert await pg.fetchval("SELECT count(*) FROM quarantine WHERE user_id = $1", user_id) == 0
    dead_letters = await pg.fetchval(
        "SELECT count(*) FROM outbox WHERE user_id = $1 AND event_type = 'dead_letter'", user_id
    )
    assert dead_letters == 0
    reason = await pg.fetchval(
        "SELECT outcome FROM inbox WHERE user_id = $1 AND message_id LIKE 'reconcile:%'", user_id
    )
    assert reason == "deleted_upstream"


async def test_input_message_and_reconciler_racing_for_one_user_publish_one_change(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    read_topic: ReaderFactory,
    topics: Topics,
    pg: asyncpg.Connection,
) -> None:
    """When an input message and a reconciler check record the same accepted report at the
    same time, the per-user lock and the content hash let exactly one of them derive
    TO_REVIEW -> ACCEPTED: one event, with one id, whichever path won."""
    output = await read_topic(topics.output)
    users = [str(uuid.uuid4()) for _ in range(5)]
    for user_id in users:
        emulator.create_user(user_id, state="TO_REVIEW")
    async with running(make_settings(reconcile_backoff_s=(0.01,))) as service:
        for user_id in users:
            await _processed(producer, output, user_id)
        for user_id in users:
            emulator.set_user_state(user_id, "ACCEPTED")
        racers: list[Awaitable[object]] = [
            producer.send({"user_id": u, "event_id": f"accepted-{u}"}) for u in users
        ]
        await asyncio.gather(*racers, service.reconciler.run_once())
        for user_id in users:
            await _arrives(output, user_id, STATE, 2)
        await _sentinel_passes(producer, emulator, output)
    for user_id in users:
        changes = [r.json() for r in _of(output, user_id, STATE)]
        assert [(c["from"], c["to"]) for c in changes] == [
            (None, "TO_REVIEW"),
            ("TO_REVIEW", "ACCEPTED"),
        ]
        outcomes = await pg.fetch(
            "SELECT message_id, outcome FROM inbox WHERE user_id = $1"
            " AND message_id <> $2 ORDER BY processed_at",
            user_id,
            f"event:completed-{user_id}",
        )
        # Both paths recorded the report (one stored it, the other found it unchanged), or the
        # reconciler checked before the change was visible to it; never two stored snapshots.
        stored = [r["message_id"] for r in outcomes if r["outcome"] == "stored"]
        assert len(stored) == 1, outcomes
    assert await pg.fetchval(
        "SELECT count(*) FROM report_snapshots WHERE user_id = ANY($1::uuid[])", users
    ) == 2 * len(users)


async def test_checks_ask_for_the_state_and_fetch_the_report_only_when_needed(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    read_topic: ReaderFactory,
    topics: Topics,
    pg: asyncpg.Connection,
) -> None:
    """An unchanged user costs one GET /user/state per check; the full report is fetched at
    every Nth check (and found unchanged), and the backoff grows while nothing changes."""
    user_id = str(uuid.uuid4())
    emulator.create_user(user_id, state="TO_REVIEW")
    output = await read_topic(topics.output)
    settings = make_settings(reconcile_backoff_s=(0.01,), reconcile_full_report_every=3)
    async with running(settings) as service:
        await _processed(producer, output, user_id)
        emulator.reset_counts()
        outcomes = []
        while len(outcomes) < 3:
            outcomes.append(await _next_check(service.reconciler, pg, user_id))
        assert outcomes == [UNCHANGED, UNCHANGED, UNCHANGED]
        counts = emulator.counts()
        assert (counts["user_state"], counts["user_report"]) == (3, 1)
        row = await pg.fetchrow(
            "SELECT check_count, checks_without_change FROM users WHERE user_id = $1", user_id
        )
        assert (row["check_count"], row["checks_without_change"]) == (3, 3)
        emulator.add_document(user_id, "passport")
        emulator.set_user_state(user_id, "IN_PROGRESS")
        assert await _next_check(service.reconciler, pg, user_id) == CHANGED
        await _arrives(output, user_id, b"onboarding.document.added", 3)
        assert metric(service, "ingestor_reconcile_checks_total", outcome=CHANGED) == 1
        streak = "SELECT checks_without_change FROM users WHERE user_id = $1"
        assert await pg.fetchval(streak, user_id) == 0  # a change starts the backoff again
        assert await service.reconciler.run_once() is not None  # a round updates the gauges
        assert metric(service, "ingestor_reconcile_pending_users", state="IN_PROGRESS") == 1
        assert metric(service, "ingestor_reconcile_pending_users", state="TO_REVIEW") == 0
        assert await pg.fetchval(streak, user_id) == 1  # the round's check found nothing new


async def _next_check(reconciler: Reconciler, pg: asyncpg.Connection, user_id: str) -> str | None:
    """Check the user now (as a round would when it is due); the outcome."""
    before = await pg.fetchval("SELECT check_count FROM users WHERE user_id = $1", user_id)
    outcome = await reconciler.check(DueUser(user_id, None))
    after = await pg.fetchval("SELECT check_count FROM users WHERE user_id = $1", user_id)
    assert after == before + 1
    return outcome


async def test_the_same_report_recorded_by_both_paths_at_once_is_stored_once(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    read_topic: ReaderFactory,
    topics: Topics,
    pg: asyncpg.Connection,
) -> None:
    """Two transactions recording one accepted report for a user at the same moment (one for an
    input message, one for a reconciler check) store one snapshot and queue one state_changed:
    the later one waits for the user's row lock and then finds the content hash unchanged."""
    output = await read_topic(topics.output)
    users = [str(uuid.uuid4()) for _ in range(8)]
    for user_id in users:
        emulator.create_user(user_id, state="TO_REVIEW")
    async with running(make_settings()) as service:
        for user_id in users:
            await _processed(producer, output, user_id)
            emulator.set_user_state(user_id, "ACCEPTED")
        now = datetime.now(UTC)
        pairs = []
        for user_id in users:
            body = emulator.report_bytes(user_id)
            refs = (
                MessageRef(f"event:accepted-{user_id}", topics.input, 0, 1),
                MessageRef(f"reconcile:{user_id}:1", RECONCILE_TOPIC, 0, 1),
            )
            pairs.extend(
                service.ingest.record([Fetched(ref, user_id, body, content_hash(body), None, now)])
                for ref in refs
            )
        outcomes = await asyncio.gather(*pairs)
        service.relay.notify()
        for user_id in users:
            await _arrives(output, user_id, STATE, 2)
        await _sentinel_passes(producer, emulator, output)
    recorded = [o[0] for o in outcomes]
    assert all(isinstance(r, Recorded) for r in recorded)
    for first, second in zip(recorded[::2], recorded[1::2], strict=True):
        assert isinstance(first, Recorded)
        assert isinstance(second, Recorded)
        assert sorted([first.outcome, second.outcome]) == ["stored", "unchanged"]
    for user_id in users:
        changes = [r.json() for r in _of(output, user_id, STATE)]
        assert [(c["from"], c["to"]) for c in changes] == [
            (None, "TO_REVIEW"),
            ("TO_REVIEW", "ACCEPTED"),
        ]
