"""Crypto-shredding on the real stack: stored bodies hold no personal value in clear and open
only with the key; `rotate-keys` re-wraps every data key and old rows still open; erasure
destroys the data key first, in a committed step of its own."""

from __future__ import annotations

import base64
import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text

from emulator import AliceEmulator
from service.crypto import DataKeys, Keyring, Unsealer
from service.crypto.keyring import parse_keys
from service.derive import Thresholds
from service.errors import UnreadableData
from service.ingest import Fetched, Ingest, Recorded, content_hash
from service.privacy import erasure as erasure_module
from service.privacy.erasure import Erasure, ErasureRequest
from service.report import parse_report
from service.store.database import Database
from service.store.repository import MessageRef
from tests.integration.pipeline.conftest import (
    TEST_KEKS,
    Producer,
    SettingsFactory,
    eventually,
    running,
    settings_env,
    test_data_keys,
)
from tests.integration.privacy.conftest import report_values, run_cli, traces

SNAPSHOTS = "SELECT * FROM report_snapshots WHERE user_id = CAST(:u AS uuid) ORDER BY id"


def _personal_values(report: dict[str, Any]) -> set[str]:
    """The user's document numbers and MRZ lines, and first and last names: values that only
    a report body holds (ids are left out: they are stored in clear on purpose)."""
    names = {
        field["value"]
        for field in report["summary"].get("user_data") or []
        if field.get("name") in {"first_name", "last_name"} and len(field.get("value") or "") >= 4
    }
    numbers = {v for v in report_values(report) if not _is_uuid(v)}
    return names | numbers


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def _rows(database: Database, sql: str, user_id: str) -> list[dict[str, Any]]:
    async with database.transaction() as connection:
        result = await connection.execute(text(sql), {"u": user_id})
        return [dict(r) for r in result.mappings()]


def _unsealer(keys: str) -> Unsealer:
    return Unsealer(DataKeys(Keyring.of(parse_keys(keys))))


def _other_kek(key_id: str) -> str:
    return f"{key_id}:{base64.b64encode(os.urandom(32)).decode()}"


async def test_stored_bodies_are_unreadable_without_the_key(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    pg: asyncpg.Connection,
) -> None:
    """A user with three snapshots, their events and a quarantined spoiled report: no column of
    any table holds the user's names, document numbers or MRZ in clear; with the key every
    body opens to what Alice sent; with another KEK under the same id, or none, nothing does."""
    user_id = str(uuid.uuid4())
    emulator.create_user(user_id, state="TO_REVIEW")
    reports = [emulator.report(user_id)]
    # Whole reports (no minimisation): the test compares what opens with what Alice sent.
    settings = make_settings(
        kafka_group_id=f"g-crypto-{uuid.uuid4().hex[:8]}", report_minimisation=()
    )
    async with running(settings) as service:
        for n, change in enumerate((None, "ACCEPTED", "passport"), start=1):
            if change == "ACCEPTED":
                emulator.set_user_state(user_id, change)
            elif change == "passport":
                emulator.add_document(user_id, change)
            if change is not None:
                reports.append(emulator.report(user_id))
            await producer.send({"user_id": user_id, "event_id": f"crypto-{n}"})

            async def stored(count: int = n) -> bool:
                found = await pg.fetchval(
                    "SELECT count(*) FROM report_snapshots WHERE user_id = $1", user_id
                )
                return bool(found == count)

            await eventually(stored)
        emulator.fault_next(1, "invalid_json")
        await producer.send({"user_id": user_id, "event_id": "crypto-spoiled"})

        async def quarantined() -> bool:
            return bool(
                await pg.fetchval("SELECT count(*) FROM quarantine WHERE user_id = $1", user_id)
            )

        await eventually(quarantined)
        database = service.database
        snapshots = await _rows(database, SNAPSHOTS, user_id)
        events = await _rows(database, "SELECT * FROM user_events WHERE user_id = :u", user_id)
        quarantine = await _rows(
            database, "SELECT * FROM quarantine WHERE sealed_for = CAST(:u AS uuid)", user_id
        )

        needles = set().union(*(_personal_values(r) for r in reports))
        assert len(needles) >= 3
        assert await traces(pg, needles) == {}
        assert all(r["report"] is None and r["report_sealed"] for r in snapshots)

        unsealer = _unsealer(TEST_KEKS)
        async with database.transaction() as connection:
            assert await unsealer.snapshot_reports(connection, snapshots) == reports
            opened = await unsealer.user_events(connection, events)
            [(_, body)] = await unsealer.quarantined(connection, quarantine)
        assert {e["id"] for e in opened} == {e["id"] for r in reports for e in r["events"]}
        assert body is not None
        assert body.startswith(b"{")  # the spoiled body, as received (cut off mid-JSON)

        for keys in (_other_kek("test-1"), _other_kek("elsewhere")):
            async with database.transaction() as connection:
                with pytest.raises(UnreadableData):
                    await _unsealer(keys).snapshot_reports(connection, snapshots)


async def test_rotate_keys_rewraps_every_key_and_old_rows_still_open(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    pg: asyncpg.Connection,
) -> None:
    """After a new KEK is appended and `rotate-keys` runs: every data key carries the new KEK's
    id, the data rows are byte-for-byte unchanged and open with the new KEK alone, the run is
    audited, and a second run re-wraps nothing."""
    user_id = str(uuid.uuid4())
    emulator.create_user(user_id, state="TO_REVIEW")
    report = emulator.report(user_id)
    settings = make_settings(
        kafka_group_id=f"g-rotate-{uuid.uuid4().hex[:8]}", report_minimisation=()
    )
    async with running(settings) as service:
        await producer.send({"user_id": user_id, "event_id": "rotate-1"})

        async def stored() -> bool:
            return bool(
                await pg.fetchval(
                    "SELECT count(*) FROM report_snapshots WHERE user_id = $1", user_id
                )
            )

        await eventually(stored)
        before = await _rows(service.database, SNAPSHOTS, user_id)

    new_id = f"rot-{uuid.uuid4().hex[:8]}"
    new_kek = _other_kek(new_id)
    env = {
        **settings_env(settings),
        "ENCRYPTION_KEYS": f"{TEST_KEKS},{new_kek}",
        "PYTHONWARNINGS": "ignore",
    }
    result = await run_cli("rotate-keys", "--actor", "ops@example", "--batch", "7", env=env)
    assert result.code == 0, result.err
    rewrapped = int(result.out.split("re-wrapped ")[1].split(" ")[0])
    assert rewrapped >= 1
    assert await pg.fetchval("SELECT count(*) FROM data_keys WHERE kek_id <> $1", new_id) == 0

    database = Database.from_settings(settings)
    try:
        after = await _rows(database, SNAPSHOTS, user_id)
        assert [r["report_sealed"] for r in after] == [r["report_sealed"] for r in before]
        async with database.transaction() as connection:
            assert await _unsealer(new_kek).snapshot_reports(connection, after) == [report]
            with pytest.raises(UnreadableData):  # the old KEK alone no longer unwraps
                await _unsealer(TEST_KEKS).snapshot_reports(connection, after)
    finally:
        await database.aclose()

    again = await run_cli("rotate-keys", "--actor", "ops@example", env=env)
    assert again.code == 0, again.err
    assert "re-wrapped 0 data key(s)" in again.out
    audit = await pg.fetch(
        "SELECT actor, reason, counts FROM privacy_audit WHERE action = 'rotate-keys'"
        " AND reason = $1 ORDER BY id",
        f"active KEK {new_id}",
    )
    assert [json.loads(a["counts"]) for a in audit] == [
        {"rewrapped": rewrapped, "unreadable": 0},
        {"rewrapped": 0, "unreadable": 0},
    ]
    assert {a["actor"] for a in audit} == {"ops@example"}
    # Back to the session's KEK, so that the later tests' keys and this session agree.
    back = {**env, "ENCRYPTION_KEYS": f"{new_kek},{TEST_KEKS}"}
    assert (await run_cli("rotate-keys", env=back)).code == 0


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """A connection pool on the session's database."""
    from sqlalchemy.ext.asyncio import create_async_engine  # noqa: PLC0415

    pool = Database(engine=create_async_engine(database_url))
    yield pool
    await pool.aclose()


def _fetched(user_id: str, body: bytes, n: int) -> Fetched:
    ref = MessageRef(f"crypto-test:{user_id}:{n}", "in", 0, n)
    return Fetched(ref, user_id, body, content_hash(body), parse_report(body), datetime.now(UTC))


async def test_erasure_destroys_the_data_key_first_in_its_own_transaction(
    database: Database,
    emulator: AliceEmulator,
    pg: asyncpg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An erasure whose row deletion fails has already destroyed the user's data key: the
    rows left behind (as a backup would hold them) no longer open. The erasure run again
    removes the rest; a later report of the user, recorded by a process that still caches
    the old key, is sealed under a new key and opens."""
    user_id = str(uuid.uuid4())
    emulator.create_user(user_id, state="TO_REVIEW")
    topic = f"crypto-out-{uuid.uuid4().hex[:8]}"
    ingest = Ingest(
        database=database,
        thresholds=Thresholds(),
        output_topic=topic,
        dlq_topic="dlq",
        data_keys=test_data_keys(),  # this process's cache keeps the first key
        erasure_tombstone_hours=0,
    )
    [first] = await ingest.record([_fetched(user_id, emulator.report_bytes(user_id), 1)])
    assert isinstance(first, Recorded)
    assert first.outcome == "stored"
    erasure = Erasure(database=database, output_topic=topic, key_shredder=test_data_keys())
    request = ErasureRequest(user_id=user_id, request_id=f"test:{uuid.uuid4()}", actor="test")

    async def failing_delete(*args: object) -> dict[str, int]:
        raise RuntimeError("the row deletion fails")

    monkeypatch.setattr(erasure_module, "delete_user_rows", failing_delete)
    with pytest.raises(RuntimeError):
        await erasure.erase(request)
    assert await pg.fetchval("SELECT count(*) FROM data_keys WHERE user_id = $1", user_id) == 0
    left = await _rows(database, SNAPSHOTS, user_id)
    assert len(left) == 1
    async with database.transaction() as connection:
        with pytest.raises(UnreadableData):
            await _unsealer(TEST_KEKS).snapshot_reports(connection, left)

    monkeypatch.undo()
    erased = await erasure.erase(request)
    assert erased.counts["report_snapshots"] == 1
    assert await _rows(database, SNAPSHOTS, user_id) == []
    assert await pg.fetchval("SELECT count(*) FROM data_keys WHERE user_id = $1", user_id) == 0

    emulator.set_user_state(user_id, "ACCEPTED")
    [later] = await ingest.record([_fetched(user_id, emulator.report_bytes(user_id), 2)])
    assert isinstance(later, Recorded)
    assert later.outcome == "stored"
    rows = await _rows(database, SNAPSHOTS, user_id)
    async with database.transaction() as connection:
        [report] = await _unsealer(TEST_KEKS).snapshot_reports(connection, rows)
    assert report == emulator.report(user_id)
    await pg.execute("DELETE FROM outbox WHERE topic = $1", topic)


async def test_a_key_under_a_removed_kek_fails_only_its_users_messages(
    database: Database, emulator: AliceEmulator, pg: asyncpg.Connection
) -> None:
    """When ENCRYPTION_KEYS no longer lists the KEK of a user's stored data key, that user's
    message fails with the permanent UnreadableData while a batch-mate is stored."""
    old_user, new_user = str(uuid.uuid4()), str(uuid.uuid4())
    for user_id in (old_user, new_user):
        emulator.create_user(user_id, state="TO_REVIEW")
    topic = f"crypto-out-{uuid.uuid4().hex[:8]}"

    def ingest(keys: str) -> Ingest:
        return Ingest(
            database=database,
            thresholds=Thresholds(),
            output_topic=topic,
            dlq_topic="dlq",
            data_keys=DataKeys(Keyring.of(parse_keys(keys))),
        )

    [first] = await ingest(TEST_KEKS).record(
        [_fetched(old_user, emulator.report_bytes(old_user), 1)]
    )
    assert isinstance(first, Recorded)
    emulator.set_user_state(old_user, "ACCEPTED")
    outcomes = await ingest(_other_kek("only-new")).record(
        [
            _fetched(old_user, emulator.report_bytes(old_user), 2),
            _fetched(new_user, emulator.report_bytes(new_user), 3),
        ]
    )
    assert isinstance(outcomes[0], UnreadableData)
    assert isinstance(outcomes[1], Recorded)
    assert outcomes[1].outcome == "stored"
    counts = await pg.fetch(
        "SELECT user_id::text AS u, count(*) AS n FROM report_snapshots"
        " WHERE user_id = ANY($1::uuid[]) GROUP BY user_id",
        [old_user, new_user],
    )
    assert {r["u"]: r["n"] for r in counts} == {old_user: 1, new_user: 1}
    await pg.execute("DELETE FROM outbox WHERE topic = $1", topic)


async def test_seal_legacy_encrypts_rows_stored_in_clear_before_0006(
    make_settings: SettingsFactory, database: Database, pg: asyncpg.Connection
) -> None:
    """A snapshot and a user event stored as clear JSONB (as before migration 0006) are sealed
    by `seal-legacy`: the clear columns are emptied, the name is nowhere in clear, the reader
    returns the same objects, the run is audited, and a second run seals nothing."""
    user_id = str(uuid.uuid4())
    secret = f"Legacy-{uuid.uuid4().hex[:12]}"
    report = {"id": str(uuid.uuid4()), "user_id": user_id, "summary": {"name": secret}}
    event = {"id": f"legacy-{uuid.uuid4()}", "device": {"ip": secret}}
    snapshot_id = await pg.fetchval(
        "INSERT INTO report_snapshots (user_id, report_id, content_hash, report, message_id)"
        " VALUES ($1, $2, '\\x00', $3::jsonb, $4) RETURNING id",
        user_id,
        report["id"],
        json.dumps(report),
        f"legacy:{user_id}",
    )
    await pg.execute(
        "INSERT INTO user_events (event_id, user_id, type, event, first_snapshot_id)"
        " VALUES ($1, $2, 'legacy', $3::jsonb, $4)",
        event["id"],
        user_id,
        json.dumps(event),
        snapshot_id,
    )
    assert await traces(pg, {secret}) != {}

    env = {**settings_env(make_settings()), "PYTHONWARNINGS": "ignore"}
    result = await run_cli("seal-legacy", "--actor", "ops@example", "--batch", "3", env=env)
    assert result.code == 0, result.err
    assert await traces(pg, {secret}) == {}
    snapshots = await _rows(database, SNAPSHOTS, user_id)
    events = await _rows(database, "SELECT * FROM user_events WHERE user_id = :u", user_id)
    assert snapshots[0]["report"] is None
    async with database.transaction() as connection:
        assert await _unsealer(TEST_KEKS).snapshot_reports(connection, snapshots) == [report]
        assert await _unsealer(TEST_KEKS).user_events(connection, events) == [event]

    again = await run_cli("seal-legacy", env=env)
    assert again.code == 0, again.err
    assert "report_snapshots: 0 sealed" in again.out
    assert "user_events: 0 sealed" in again.out
    audit = await pg.fetchval(
        "SELECT counts FROM privacy_audit WHERE action = 'seal-legacy' AND actor = 'ops@example'"
        " ORDER BY id DESC LIMIT 1"
    )
    assert json.loads(audit)["report_snapshots"] >= 1
