"""Records nobody here wrote, in bursts, on the real broker: every record fetched is processed
or dead-lettered, the committed offsets reach the end, and header bytes survive untouched."""

from __future__ import annotations

import json
import uuid

import asyncpg

from emulator import AliceEmulator
from tests.integration.pipeline.conftest import (
    Producer,
    ReaderFactory,
    SettingsFactory,
    Topics,
    committed_offsets,
    eventually,
    running,
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
