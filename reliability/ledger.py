"""The ledger: what became of every input record, and whether the output is sound.

Read at the end of a scenario from the real sources, never from the service's own counters:
- every record of the input topic (read back from the broker, so records published by
  `replay-dlq` count too), identified by partition and offset;
- the inbox (a processed record has a row at its topic/partition/offset with outcome `stored`,
  `unchanged` or `stale`: a report older than the stored one is processed on purpose and
  stores nothing, see `service/freshness.py`) and the dead-letter topic (a dead letter names
  its source partition/offset in `dlq_source_*` headers and says why in `dlq_reason`);
- the output topic (derived events by `ce_id`), the outbox and the snapshots.

A record is *lost* when it is neither processed nor dead-lettered; *doubled* when it is both or
dead-lettered twice. Scenarios publish no two records with one event id, so a record the inbox
skipped as a duplicate of another is lost too (two distinct ids read as one).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from reliability.publish import Published
from reliability.topics import KafkaRecord, read_all

PROCESSED = {"stored", "unchanged", "stale"}
Where = tuple[int, int]


@dataclass
class Ledger:
    """The figures of one scenario and every target it missed."""

    messages_in: int = 0
    stored: int = 0
    dead_lettered: int = 0
    lost: int = 0
    duplicate_snapshots: int = 0
    duplicate_deliveries: int = 0
    derived_events: int = 0
    conflicting_ids: int = 0
    out_of_order_users: int = 0
    undelivered_derived: int = 0
    wrongly_dead_lettered: int = 0
    problems: list[str] = field(default_factory=list)
    lost_kinds: Counter[str] = field(default_factory=Counter)
    dead_letter_reasons: Counter[str] = field(default_factory=Counter)


def _header(record: KafkaRecord, name: str) -> bytes | None:
    found = None
    for key, value in record.headers:
        if key == name:
            found = value
    return found


async def _database(dsn: str) -> dict[str, Any]:
    connection = await asyncpg.connect(dsn)
    try:
        inbox = await connection.fetch(
            'SELECT message_id, topic, partition, "offset", outcome FROM inbox'
        )
        outbox = await connection.fetch(
            "SELECT id, event_id::text AS event_id, topic, user_id::text AS user_id, sent_at"
            " FROM outbox ORDER BY id"
        )
        snapshots = await connection.fetch(
            "SELECT user_id::text AS user_id, content_hash FROM report_snapshots ORDER BY id"
        )
    finally:
        await connection.close()
    return {"inbox": inbox, "outbox": outbox, "snapshots": snapshots}


async def build(
    *,
    dsn: str,
    bootstrap: str,
    input_topic: str,
    input_partitions: int,
    output_topic: str,
    dlq_topic: str,
    published: list[Published],
    poison_ids: frozenset[str] = frozenset(),
    replays_expected: str = "processed",
) -> Ledger:
    """Read everything back and account for every input record."""
    ledger = Ledger()
    db = await _database(dsn)
    inputs = await read_all(bootstrap, input_topic, partitions=input_partitions)
    dead = await read_all(bootstrap, dlq_topic)
    output = await read_all(bootstrap, output_topic)
    _account_inputs(
        ledger,
        topic=input_topic,
        inputs=inputs,
        inbox=db["inbox"],
        dead=dead,
        published=published,
        replays_expected=replays_expected,
    )
    _check_output(ledger, output, db["outbox"], output_topic, poison_ids)
    _check_snapshots(ledger, db["snapshots"])
    return ledger


def _letters_by_source(dead: list[KafkaRecord], topic: str) -> dict[Where, list[KafkaRecord]]:
    letters: dict[Where, list[KafkaRecord]] = defaultdict(list)
    for letter in dead:
        if (_header(letter, "dlq_source_topic") or b"").decode() != topic:
            continue
        partition = int(_header(letter, "dlq_source_partition") or -1)
        offset = int(_header(letter, "dlq_source_offset") or -1)
        letters[(partition, offset)].append(letter)
    return letters


def _account_inputs(
    ledger: Ledger,
    *,
    topic: str,
    inputs: list[KafkaRecord],
    inbox: list[Any],
    dead: list[KafkaRecord],
    published: list[Published],
    replays_expected: str,
) -> None:
    rows = {(r["partition"], r["offset"]): r for r in inbox if r["topic"] == topic}
    letters = _letters_by_source(dead, topic)
    known = {(p.partition, p.offset): p for p in published}
    ledger.messages_in = len(inputs)
    unexpected: Counter[str] = Counter()
    # What cannot be read back (a record the reader's decoding drops) is lost, not unseen.
    read_back = {(r.partition, r.offset) for r in inputs}
    for unread in [p for p in published if (p.partition, p.offset) not in read_back]:
        ledger.lost += 1
        ledger.lost_kinds[f"{unread.record.kind} (not read back)"] += 1
    for record in inputs:
        where = (record.partition, record.offset)
        row = rows.get(where)
        mine = known.get(where)
        expect = mine.record.expect if mine else replays_expected
        kind = mine.record.kind if mine else "replayed"
        processed = row is not None and row["outcome"] in PROCESSED
        lettered = letters.get(where, [])
        if lettered:
            _dead_letter(ledger, lettered, expect=expect, also_processed=processed)
            if processed:
                unexpected[f"{kind} both processed and dead-lettered"] += 1
        elif processed:
            ledger.stored += 1
            if expect == "dead_lettered":
                unexpected[f"{kind} processed, a dead letter expected"] += 1
        else:
            ledger.lost += 1
            ledger.lost_kinds[kind] += 1
    ledger.problems.extend(f"{count} x {what}" for what, count in unexpected.items())
    if ledger.wrongly_dead_lettered:
        ledger.problems.append(f"{ledger.wrongly_dead_lettered} valid records dead-lettered")
    if ledger.lost:
        ledger.problems.append(f"{ledger.lost} lost: {dict(ledger.lost_kinds)}")


def _dead_letter(
    ledger: Ledger, lettered: list[KafkaRecord], *, expect: str, also_processed: bool
) -> None:
    if also_processed:
        ledger.stored += 1
        return
    ledger.dead_lettered += 1
    reason = (_header(lettered[0], "dlq_error_class") or b"").decode()
    ledger.dead_letter_reasons[reason or "no reason"] += 1
    if not _header(lettered[0], "dlq_reason"):
        ledger.problems.append("a dead letter without dlq_reason")
    ledger.duplicate_deliveries += len(lettered) - 1
    if expect == "processed":
        ledger.wrongly_dead_lettered += 1


def _check_output(
    ledger: Ledger,
    output: list[KafkaRecord],
    outbox: list[Any],
    output_topic: str,
    poison_ids: frozenset[str],
) -> None:
    contents: dict[str, set[tuple[Any, ...]]] = defaultdict(set)
    counts: Counter[str] = Counter()
    order: dict[str, list[str]] = defaultdict(list)
    for record in sorted(output, key=lambda r: (r.partition, r.offset)):
        ce_id = (_header(record, "ce_id") or b"").decode()
        counts[ce_id] += 1
        contents[ce_id].add((record.key, record.value, _header(record, "ce_type")))
        if counts[ce_id] == 1:
            order[(record.key or b"").decode()].append(ce_id)
    ledger.derived_events = len(counts)
    ledger.duplicate_deliveries += sum(c - 1 for c in counts.values())
    ledger.conflicting_ids = sum(len(c) > 1 for c in contents.values())
    if ledger.conflicting_ids:
        ledger.problems.append(f"{ledger.conflicting_ids} derived ids with two contents")
    delivered_poison = poison_ids & set(counts)
    if delivered_poison:
        ledger.problems.append(f"{len(delivered_poison)} poison outbox rows were delivered")
    expected: dict[str, list[str]] = defaultdict(list)
    for row in outbox:
        if row["topic"] != output_topic or row["event_id"] in poison_ids:
            continue
        expected[row["user_id"] or ""].append(row["event_id"])
        if row["event_id"] not in counts:
            ledger.undelivered_derived += 1
    if ledger.undelivered_derived:
        ledger.problems.append(f"{ledger.undelivered_derived} derived events never delivered")
    for user, ids in expected.items():
        if [i for i in order.get(user, []) if i in set(ids)] != [i for i in ids if i in counts]:
            ledger.out_of_order_users += 1
    if ledger.out_of_order_users:
        ledger.problems.append(f"{ledger.out_of_order_users} users' derived events out of order")


def _check_snapshots(ledger: Ledger, snapshots: list[Any]) -> None:
    last: dict[str, bytes] = {}
    for row in snapshots:
        if last.get(row["user_id"]) == row["content_hash"]:
            ledger.duplicate_snapshots += 1
        last[row["user_id"]] = row["content_hash"]
    if ledger.duplicate_snapshots:
        ledger.problems.append(f"{ledger.duplicate_snapshots} duplicate snapshots")
