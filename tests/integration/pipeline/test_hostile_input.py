"""Records nobody here wrote, in bursts, on the real broker: every record fetched is processed
or dead-lettered, the committed offsets reach the end, and header bytes survive untouched."""

from __future__ import annotations

import json
import uuid

import asyncpg
from aiokafka import AIOKafkaProducer

from emulator import AliceEmulator
from reliability.publish import RawRecord, send_raw_records
from tests.integration.pipeline.conftest import (
    Producer,
    ReaderFactory,
    SettingsFactory,
    Topics,
    committed_offsets,
    eventually,
    metric,
    running,
    settled_dead_letters,
)


async def _inbox_count(pg: asyncpg.Connection, topic: str, outcome: str | None = None) -> int:
    if outcome is None:
        return int(await pg.fetchval("SELECT count(*) FROM inbox WHERE topic = $1", topic))
    return int(
        await pg.fetchval(
            "SELECT count(*) FROM inbox WHERE topic = $1 AND outcome = $2", topic, outcome
        )
    )


async def _all_committed(kafka_bootstrap: str, group: str, topic: str, total: int) -> bool:
    return sum((await committed_offsets(kafka_bootstrap, group, topic)).values()) == total


async def test_a_record_with_binary_and_null_headers_costs_nothing_to_its_batch(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    topics: Topics,
    pg: asyncpg.Connection,
    kafka_bootstrap: str,
) -> None:
    """60 valid events, one carrying a non-UTF-8 and a null header value (as Java producers and
    tracing agents send): all 60 are stored and every offset is committed."""
    users = [str(uuid.uuid4()) for _ in range(60)]
    for user in users:
        emulator.create_user(user, state="TO_REVIEW")
    for index, user in enumerate(users):
        headers = [("traceparent", b"\xff\xfe\x00\x01"), ("x-null", None)] if index == 30 else []
        await producer.send({"user_id": user}, headers=headers)  # type: ignore[arg-type]
    settings = make_settings()
    async with running(settings):

        async def all_stored() -> bool:
            return await _inbox_count(pg, topics.input, "stored") == len(users)

        await eventually(all_stored, timeout=60)
        await eventually(
            lambda: _all_committed(kafka_bootstrap, settings.kafka_group_id, topics.input, 60)
        )


async def test_a_burst_of_malformed_records_is_dead_lettered_one_by_one(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    read_topic: ReaderFactory,
    topics: Topics,
    pg: asyncpg.Connection,
    kafka_bootstrap: str,
) -> None:
    """200 malformed records (not JSON, wrong types, deep nesting, ids holding NUL or 10 KB,
    invalid UTF-8, binary headers) then one valid event: 200 dead letters with a reason, each
    keeping its original bytes, the valid event stored, every offset committed."""
    valid_user = str(uuid.uuid4())
    emulator.create_user(valid_user, state="TO_REVIEW")
    user = str(uuid.uuid4())
    kinds: list[tuple[bytes | None, list[tuple[str, bytes | None]]]] = [
        (b"not json", []),
        (b"\xff\xfe\xfd", []),
        (b"[1, 2]", []),
        (json.dumps({"user_id": 12}).encode(), []),
        (json.dumps({"user_id": "../../admin"}).encode(), []),
        (b'{"user_id": ' + b"[" * 5000 + b"]" * 5000 + b"}", []),
        (json.dumps({"user_id": user}).encode(), [("ce_id", b"a\x00b")]),
        (json.dumps({"user_id": user}).encode(), [("ce_id", b"x" * 10_000)]),
        (json.dumps({"user_id": user}).encode(), [("ce_id", b"\x01ctl")]),
        (
            json.dumps({"specversion": "1.0", "id": "n\x00l", "data": {"user_id": user}}).encode(),
            [],
        ),
        (
            json.dumps(
                {"specversion": "1.0", "id": "y" * 10_000, "data": {"user_id": user}}
            ).encode(),
            [("binary", b"\x00\xff\x80")],
        ),
        (None, [("x-null", None)]),
    ]
    malformed = [kinds[i % len(kinds)] for i in range(200)]
    dlq = await read_topic(topics.dlq)
    for value, headers in malformed:
        await producer.send(value, key=b"k", headers=headers)  # type: ignore[arg-type]
    await producer.send({"user_id": valid_user})
    settings = make_settings()
    async with running(settings):
        letters = await dlq.wait_for(200, timeout=90)

        async def valid_stored() -> bool:
            return await _inbox_count(pg, topics.input, "stored") == 1

        await eventually(valid_stored)
        await eventually(
            lambda: _all_committed(kafka_bootstrap, settings.kafka_group_id, topics.input, 201)
        )
    assert len(letters) == 200
    assert all(letter.headers["dlq_error_class"] == b"invalid_input" for letter in letters)
    assert all(letter.headers["dlq_reason"] for letter in letters)
    by_offset = {int(letter.headers["dlq_source_offset"]): letter for letter in letters}
    # Offsets are per partition; the key b"k" puts every malformed record on one partition.
    assert sorted(by_offset) == list(range(200))
    for offset, (value, headers) in enumerate(malformed):
        assert by_offset[offset].value == value
        for name, raw in headers:
            if raw is not None:
                assert by_offset[offset].headers[name] == raw


async def test_a_header_key_that_is_not_utf8_is_dead_lettered_and_the_partition_moves_on(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    read_topic: ReaderFactory,
    topics: Topics,
    pg: asyncpg.Connection,
    kafka_bootstrap: str,
) -> None:
    """One record batch on the broker: a valid event, a valid event under a header key that is
    not UTF-8 (aiokafka's own decoding raises for the whole fetch), a valid event. Both valid
    ones are stored, the middle one is dead-lettered once as header_key_not_utf8 with its key,
    value and header bytes, counted by the metric, and the consumer goes on: a sentinel
    published after them is dead-lettered too and every offset is committed."""
    first, middle, last = (str(uuid.uuid4()) for _ in range(3))
    for user in (first, middle, last):
        emulator.create_user(user, state="TO_REVIEW")
    bad_key = b"trace-\xff\xfe-id"
    batch: list[RawRecord] = [
        (first.encode(), json.dumps({"user_id": first}).encode(), []),
        (
            middle.encode(),
            json.dumps({"user_id": middle}).encode(),
            [("traceparent", b"00-t"), (bad_key, b"\x00v")],
        ),
        (last.encode(), json.dumps({"user_id": last}).encode(), []),
    ]
    raw = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await raw.start()
    try:
        base = await send_raw_records(raw, topics.input, 0, batch)
    finally:
        await raw.stop()
    dlq = await read_topic(topics.dlq)
    settings = make_settings()
    async with running(settings) as service:
        [letter] = await settled_dead_letters(producer, dlq, 1, partition=0)

        async def both_stored() -> bool:
            return await _inbox_count(pg, topics.input, "stored") == 2

        await eventually(both_stored)
        await eventually(
            lambda: _all_committed(kafka_bootstrap, settings.kafka_group_id, topics.input, 4)
        )
        counted = metric(service, "ingestor_dead_letters_total", reason="header_key_not_utf8")

    assert base == 0
    stored = await pg.fetch(
        'SELECT "offset", user_id::text AS user_id FROM inbox WHERE topic = $1'
        " AND outcome = 'stored' ORDER BY \"offset\"",
        topics.input,
    )
    assert [(row["offset"], row["user_id"]) for row in stored] == [(0, first), (2, last)]
    assert letter.headers["dlq_error_class"] == b"header_key_not_utf8"
    assert letter.headers["dlq_source_offset"] == b"1"
    assert letter.headers["dlq_source_partition"] == b"0"
    assert letter.headers["dlq_reason"]
    assert (letter.key, letter.value) == (middle.encode(), json.dumps({"user_id": middle}).encode())
    assert letter.headers["traceparent"] == b"00-t"
    assert letter.headers["dlq_key_base64:dHJhY2Ut//4taWQ="] == b"\x00v"
    assert counted == 1
