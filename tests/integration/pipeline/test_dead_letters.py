"""Permanent failures: invalid input, unknown users and invalid reports are dead-lettered with
their original key and value, quarantined, committed, and never block the partition."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

from emulator import AliceEmulator
from service.crypto.reader import quarantined_of
from tests.integration.pipeline.conftest import (
    SENTINEL_VALUE,
    Producer,
    ReaderFactory,
    Received,
    SettingsFactory,
    Topics,
    committed_offsets,
    data_keys_of,
    eventually,
    running,
    settled_dead_letters,
)

DLQ_HEADERS = {
    "dlq_error_class",
    "dlq_reason",
    "dlq_source_topic",
    "dlq_source_partition",
    "dlq_source_offset",
    "dlq_attempts",
}
PERSONAL_FIELDS = {"first_name", "last_name", "address", "birth_date"}


def personal_values(report: dict[str, Any]) -> set[bytes]:
    """Names, birth date and address anywhere in a report: what a header must never carry."""
    found: set[bytes] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("name") in PERSONAL_FIELDS and isinstance(node.get("value"), str):
                found.add(node["value"].encode())
            for child in node.values():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(report)
    return found


async def test_bad_messages_are_dead_lettered_and_the_partition_moves_on(  # noqa: PLR0915 - one story
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    read_topic: ReaderFactory,
    topics: Topics,
    pg: asyncpg.Connection,
    kafka_bootstrap: str,
) -> None:
    """Invalid JSON, a missing or non-UUID user_id, an unknown user and an invalid report each
    reach the DLQ once with their key and value unchanged and dlq_* headers without report
    content, are quarantined with their raw input (and raw report), and the valid message
    after them (and after the sentinel proving nothing more came) on the same partition is
    stored, with every offset committed."""
    valid_user, unknown_user, spoiled_user = (str(uuid.uuid4()) for _ in range(3))
    emulator.create_user(unknown_user)
    emulator.delete_user(unknown_user)
    emulator.create_user(spoiled_user)
    spoiled_body = emulator.report_bytes(spoiled_user)
    key = valid_user.encode()  # one key: every message on the same partition
    bad: list[tuple[bytes, str]] = [
        (b'{"user_id": "' + valid_user.encode() + b'", ', "invalid_input"),
        (json.dumps({"event_id": "no-user"}).encode(), "invalid_input"),
        (json.dumps({"user_id": "not-a-uuid"}).encode(), "invalid_input"),
        (json.dumps({"user_id": unknown_user}).encode(), "unknown_user"),
        (json.dumps({"user_id": spoiled_user}).encode(), "invalid_report"),
    ]
    emulator.fault_next(1, "invalid_json")  # the only report fetched before the valid message
    dlq = await read_topic(topics.dlq)
    group_id = f"g-dlq-{uuid.uuid4().hex[:8]}"

    async with running(make_settings(kafka_group_id=group_id, transient_max_attempts=3)):
        for value, _ in bad:
            await producer.send(value, key=key)
        await dlq.wait_for(len(bad))
        partition = int(dlq.records[0].headers["dlq_source_partition"])
        # The sentinel (an invalid record of its own) is at offset len(bad), on the same partition.
        letters = await settled_dead_letters(producer, dlq, len(bad), partition=partition)
        await producer.send({"user_id": valid_user}, key=key)

        async def stored() -> bool:
            count = await pg.fetchval(
                "SELECT count(*) FROM report_snapshots WHERE user_id = $1", valid_user
            )
            return bool(count == 1)

        await eventually(stored)
        assert (
            await pg.fetchval("SELECT partition FROM inbox WHERE user_id = $1", valid_user)
            == partition
        )

        async def committed() -> bool:
            offsets = await committed_offsets(kafka_bootstrap, group_id, topics.input)
            return offsets.get(partition) == len(bad) + 2  # the bad ones, the sentinel, the valid

        await eventually(committed)
        assert len(dlq.records) == len(bad) + 1  # the sentinel's dead letter

    by_offset: dict[int, Received] = {int(r.headers["dlq_source_offset"]): r for r in letters}
    assert sorted(by_offset) == list(range(len(bad)))
    forbidden = personal_values(json.loads(spoiled_body)) | {spoiled_body[:64]}
    for offset, (value, error_class) in enumerate(bad):
        letter = by_offset[offset]
        assert letter.key == key
        assert letter.value == value
        assert set(letter.headers) >= DLQ_HEADERS
        assert letter.headers["dlq_error_class"] == error_class.encode()
        assert letter.headers["dlq_source_topic"] == topics.input.encode()
        assert letter.headers["dlq_source_partition"] == str(partition).encode()
        assert letter.headers["dlq_attempts"] == b"1"
        assert letter.headers["dlq_reason"]
        for header_value in letter.headers.values():
            assert not any(secret in header_value for secret in forbidden)

    quarantined = await pg.fetch(
        'SELECT "offset", error_code, input_key, input_value, report_body, sealed_for'
        ' FROM quarantine WHERE topic = $1 ORDER BY "offset"',
        topics.input,
    )
    *subject, sentinel = quarantined
    assert (sentinel["offset"], sentinel["error_code"]) == (len(bad), "invalid_input")
    assert bytes(sentinel["input_value"]) == SENTINEL_VALUE
    assert [(q["offset"], q["error_code"]) for q in subject] == [
        (offset, error_class) for offset, (_, error_class) in enumerate(bad)
    ]
    keys = await data_keys_of(pg, subject)
    kept = [quarantined_of(q, keys) for q in subject]
    assert [value for value, _ in kept] == [value for value, _ in bad]
    assert all(bytes(q["input_key"]) == key for q in subject)
    assert [body is not None for _, body in kept] == [False] * 4 + [True]
    assert kept[4][1] == spoiled_body[: len(spoiled_body) // 2]
    # The spoiled report's body names a valid user: sealed, so not in clear in its column.
    assert subject[4]["sealed_for"] is not None
    assert spoiled_body[:64] not in bytes(subject[4]["report_body"])
