"""Checks that a phase did its job: nothing lost, nothing duplicated, per-user order kept.

Raises `VerificationError` with every problem found; returns the output records (for latency).
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.infra import PhaseTopics
from bench.workload import InputEvent

STATE_CHANGED = "onboarding.user.state_changed"
ACCEPTED_OUTCOMES = {"stored", "unchanged", "duplicate"}


class VerificationError(Exception):
    """The service's output is wrong: the benchmark's figures would mean nothing."""


@dataclass(frozen=True, slots=True)
class OutputRecord:
    """A derived event read back from the output topic."""

    offset: int
    timestamp_ms: int
    user_id: str
    ce_id: str
    ce_type: str
    ce_time: str


async def read_topic(
    bootstrap: str, topic: str, *, expected: int, timeout_s: float = 30.0
) -> list[OutputRecord]:
    """Every record of a one-partition topic from the beginning, until `expected` are read."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    records: list[OutputRecord] = []
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        await consumer.seek_to_beginning(partition)
        deadline = time.monotonic() + timeout_s
        while len(records) < expected and time.monotonic() < deadline:
            batch = await consumer.getmany(partition, timeout_ms=500, max_records=5000)
            for raw in batch.get(partition, []):
                headers = {k: v.decode() for k, v in raw.headers or ()}
                records.append(
                    OutputRecord(
                        offset=raw.offset,
                        timestamp_ms=raw.timestamp,
                        user_id=(raw.key or b"").decode(),
                        ce_id=headers.get("ce_id", ""),
                        ce_type=headers.get("ce_type", ""),
                        ce_time=headers.get("ce_time", ""),
                    )
                )
        # Anything beyond `expected` would be a duplicate publication: look a moment longer.
        extra = await consumer.getmany(partition, timeout_ms=300)
        records.extend(
            OutputRecord(r.offset, r.timestamp, (r.key or b"").decode(), "", "", "")
            for r in extra.get(partition, [])
        )
    finally:
        await consumer.stop()
    return records


async def verify_phase(
    *, dsn: str, bootstrap: str, topics: PhaseTopics, events: list[InputEvent]
) -> list[OutputRecord]:
    """Check the inbox, the outbox and the output topic against the published events."""
    problems: list[str] = []
    users = {e.user_id for e in events}
    connection = await asyncpg.connect(dsn)
    try:
        outcomes = dict(
            await connection.fetch("SELECT outcome, count(*) FROM inbox GROUP BY outcome")
        )
        ids = {r[0] for r in await connection.fetch("SELECT message_id FROM inbox")}
        snapshots = await connection.fetchval("SELECT count(*) FROM report_snapshots")
        quarantined = await connection.fetchval("SELECT count(*) FROM quarantine")
        derived = await connection.fetchval(
            "SELECT count(*) FROM outbox WHERE topic = $1", topics.output
        )
        unsent = await connection.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        dead = await connection.fetchval("SELECT count(*) FROM outbox WHERE topic = $1", topics.dlq)
    finally:
        await connection.close()

    expected_ids = {f"event:{e.event_id}" for e in events}
    if ids != expected_ids:
        problems.append(
            f"inbox: {len(expected_ids - ids)} messages missing, {len(ids - expected_ids)} unknown"
        )
    if set(outcomes) - ACCEPTED_OUTCOMES:
        problems.append(f"inbox outcomes: {outcomes}")
    if outcomes.get("stored", 0) != len(users) or snapshots != len(users):
        problems.append(
            f"{outcomes.get('stored', 0)} stored / {snapshots} snapshots for {len(users)} users"
        )
    if quarantined or dead:
        problems.append(f"{quarantined} quarantined, {dead} dead letters")
    if unsent:
        problems.append(f"{unsent} outbox rows not published")

    records = await read_topic(bootstrap, topics.output, expected=derived)
    problems.extend(_check_output(records, derived=derived, users=users))
    if problems:
        raise VerificationError("; ".join(problems))
    return records


def _check_output(records: list[OutputRecord], *, derived: int, users: set[str]) -> list[str]:
    problems = []
    if len(records) != derived:
        problems.append(f"output topic: {len(records)} records, outbox holds {derived}")
    ce_ids = Counter(r.ce_id for r in records)
    duplicated = sum(c - 1 for c in ce_ids.values() if c > 1)
    if duplicated:
        problems.append(f"output topic: {duplicated} duplicate ce_id")
    by_user: dict[str, list[OutputRecord]] = defaultdict(list)
    for record in sorted(records, key=lambda r: r.offset):
        by_user[record.user_id].append(record)
    if set(by_user) != users:
        problems.append(f"output topic: events for {len(by_user)} users, {len(users)} expected")
    wrong_count = wrong_first = out_of_order = 0
    for user_records in by_user.values():
        types = [r.ce_type for r in user_records]
        wrong_count += types.count(STATE_CHANGED) != 1
        wrong_first += types[0] != STATE_CHANGED
        times = [datetime.fromisoformat(r.ce_time) for r in user_records if r.ce_time]
        out_of_order += times != sorted(times)
    if wrong_count or wrong_first or out_of_order:
        problems.append(
            f"per-user order: {wrong_count} users without exactly one state_changed, "
            f"{wrong_first} not starting with it, {out_of_order} with ce_time out of order"
        )
    return problems


def state_changes(records: list[OutputRecord]) -> dict[str, int]:
    """Each user's state_changed record timestamp (ms since the epoch)."""
    return {r.user_id: r.timestamp_ms for r in records if r.ce_type == STATE_CHANGED}
