"""The operator CLI end to end on the real Kafka: backfill and replay-dlq as subprocesses."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from service.messages import DLQ_HEADERS, dead_letter_headers
from tests.integration.operability.conftest import run_cli
from tests.integration.pipeline.conftest import (
    ReaderFactory,
    SettingsFactory,
    Topics,
    eventually,
    running,
)

TRACEPARENT = ("traceparent", b"00-0af7651916cd43dd-01")


def original_headers(offset: int) -> list[tuple[str, bytes]]:
    """The headers the n-th dead letter had before it failed (its own event id)."""
    return [("ce_id", f"evt-original-{offset}".encode()), TRACEPARENT]


def _env(kafka_bootstrap: str, topics: Topics, database_url: str) -> dict[str, str]:
    return {
        "DATABASE_URL": database_url,  # runs that publish write an audit row
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "KAFKA_INPUT_TOPIC": topics.input,
        "KAFKA_OUTPUT_TOPIC": topics.output,
        "KAFKA_DLQ_TOPIC": topics.dlq,
        "ALICE_API_KEY": "",  # the Kafka-only tools must not need it
    }


async def _record_count(kafka_bootstrap: str, topic: str, partitions: int) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap)
    await consumer.start()
    try:
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in range(partitions)])
        return sum(ends.values())
    finally:
        await consumer.stop()


async def _fill_dlq(kafka_bootstrap: str, topics: Topics, classes: list[str]) -> list[str]:
    """Produce one dead letter per error class, as the service writes them; their user ids."""
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True)
    await producer.start()
    users = []
    try:
        for offset, error_class in enumerate(classes):
            user_id = str(uuid.uuid4())
            users.append(user_id)
            headers = dead_letter_headers(
                original_headers(offset),
                error_class=error_class,
                reason=f"{error_class} happened",
                topic=topics.input,
                partition=0,
                offset=offset,
                attempts=3,
                failed_at=datetime.now(UTC),
            )
            value = json.dumps({"user_id": user_id, "event_id": f"e-{offset}"}).encode()
            await producer.send_and_wait(topics.dlq, value, key=user_id.encode(), headers=headers)
    finally:
        await producer.stop()
    return users


async def test_backfill_publishes_keyed_onboarding_events(
    kafka_bootstrap: str,
    topics: Topics,
    read_topic: ReaderFactory,
    tmp_path: Path,
    database_url: str,
) -> None:
    """backfill of three ids publishes three JSON events keyed by user id with backfill ids."""
    users = [str(uuid.uuid4()) for _ in range(3)]
    listing = tmp_path / "users.txt"
    listing.write_text("# three users\n" + "\n".join(users) + "\n\n")
    reader = await read_topic(topics.input)

    result = await run_cli(
        "backfill",
        "--file",
        str(listing),
        "--run-id",
        "r42",
        env=_env(kafka_bootstrap, topics, database_url),
    )

    assert result.code == 0, result.err
    assert "published 3 event(s)" in result.out
    records = await reader.wait_for(3)
    assert sorted(r.key.decode() for r in records if r.key) == sorted(users)
    for record in records:
        event = record.json()
        assert record.key == event["user_id"].encode()
        assert event["event_id"] == f"backfill:{event['user_id']}:r42"
        assert datetime.fromisoformat(event["occurred_at"]).tzinfo is not None


async def test_backfill_reports_unreachable_kafka_in_one_line(
    topics: Topics, tmp_path: Path, database_url: str
) -> None:
    """With Kafka unreachable, backfill exits 1 with a one-line error and no traceback."""
    listing = tmp_path / "users.txt"
    listing.write_text(f"{uuid.uuid4()}\n")
    env = {**_env("127.0.0.1:9", topics, database_url)}
    result = await run_cli("backfill", "--file", str(listing), env=env)
    assert result.code == 1
    assert result.err.strip() == "error: Kafka at 127.0.0.1:9 is unreachable"


async def test_replay_dry_run_lists_dead_letters_and_publishes_nothing(
    kafka_bootstrap: str, topics: Topics, database_url: str
) -> None:
    """replay-dlq --dry-run lists each dead letter with its error class and publishes nothing."""
    classes = ["alice_unavailable", "invalid_report", "alice_unavailable"]
    await _fill_dlq(kafka_bootstrap, topics, classes)

    result = await run_cli(
        "replay-dlq", "--dry-run", env=_env(kafka_bootstrap, topics, database_url)
    )

    assert result.code == 0, result.err
    lines = result.out.splitlines()
    assert lines[:3] == [
        f"would replay {topics.dlq}/0/{offset} error_class={name}"
        for offset, name in enumerate(classes)
    ]
    assert "dry run: 3 dead letter(s) would be replayed" in lines
    assert "  alice_unavailable: 2" in lines
    assert "  invalid_report: 1" in lines
    assert "user_id" not in result.out  # never the value
    # The CLI has exited: anything it published was acknowledged before that.
    assert await _record_count(kafka_bootstrap, topics.input, partitions=2) == 0


async def test_replay_republishes_only_the_chosen_error_class(
    kafka_bootstrap: str,
    topics: Topics,
    read_topic: ReaderFactory,
    make_settings: SettingsFactory,
    database_url: str,
    pg: asyncpg.Connection,
) -> None:
    """replay-dlq --error-class re-publishes only matches, original key/value/headers intact,
    leaves an audit row with what it scanned and replayed, and the service then stores each
    replayed message (the other dead letter stays out)."""
    classes = ["alice_unavailable", "invalid_report", "alice_unavailable"]
    users = await _fill_dlq(kafka_bootstrap, topics, classes)
    reader = await read_topic(topics.input)

    result = await run_cli(
        "replay-dlq",
        "--error-class",
        "alice_unavailable",
        "--actor",
        "ops@example",
        env=_env(kafka_bootstrap, topics, database_url),
    )

    assert result.code == 0, result.err
    assert "replayed 2 of 3 scanned dead letter(s)" in result.out
    # The CLI waited for every acknowledgement: the end offsets are final.
    assert await _record_count(kafka_bootstrap, topics.input, partitions=2) == 2
    audit = await pg.fetchrow(
        "SELECT counts FROM privacy_audit WHERE action = 'replay-dlq' AND actor = 'ops@example'"
        " AND reason = $1",
        f"{topics.dlq} -> {topics.input}",
    )
    assert audit is not None
    assert json.loads(audit["counts"]) == {"replayed": 2, "scanned": 3}
    records = await reader.wait_for(2)
    expected = {users[0], users[2]}
    assert {r.key.decode() for r in records if r.key} == expected
    by_user = {(r.key or b"").decode(): r for r in records}
    for offset in (0, 2):
        record = by_user[users[offset]]
        assert record.json()["user_id"] == users[offset]
        assert not set(DLQ_HEADERS) & set(record.headers)
        assert record.headers == dict(original_headers(offset))

    # Followed until stored: the replayed messages go through the whole pipeline.
    async with running(make_settings()):

        async def stored() -> bool:
            rows = await pg.fetch(
                "SELECT DISTINCT user_id::text AS u FROM report_snapshots"
                " WHERE user_id = ANY($1::uuid[])",
                users,
            )
            return {r["u"] for r in rows} == expected

        await eventually(stored, timeout=60)
    outcomes = await pg.fetch(
        "SELECT message_id, outcome FROM inbox WHERE user_id = ANY($1::uuid[])", users
    )
    assert sorted((r["message_id"], r["outcome"]) for r in outcomes) == [
        ("event:evt-original-0", "stored"),
        ("event:evt-original-2", "stored"),
    ]
