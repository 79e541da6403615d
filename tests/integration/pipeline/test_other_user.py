"""A report that names another user than the one asked for is never stored under the asked
user: it is quarantined with its body and dead-lettered as `report_for_other_user`."""

from __future__ import annotations

import json
import uuid

import asyncpg

from emulator import AliceEmulator
from service.crypto.reader import quarantined_of
from tests.integration.pipeline.conftest import (
    SENTINEL_VALUE,
    Producer,
    ReaderFactory,
    SettingsFactory,
    Topics,
    data_keys_of,
    eventually,
    running,
    settled_dead_letters,
)


async def test_a_report_for_another_user_is_dead_lettered_not_stored(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    read_topic: ReaderFactory,
    topics: Topics,
    pg: asyncpg.Connection,
) -> None:
    """The asked user gets no snapshot, no events and no outbox row; the DLQ gets one letter
    with error class report_for_other_user; the quarantine keeps the minimised report body; a valid
    message after it on the same partition is stored (the sentinel)."""
    asked, sentinel = str(uuid.uuid4()), str(uuid.uuid4())
    emulator.create_user(asked, features=["drift_other_user"])
    body = emulator.report_bytes(asked)
    other = json.loads(body)["report"]["user_id"]
    assert other != asked
    dlq = await read_topic(topics.dlq)
    key = asked.encode()  # one key: both messages on the same partition, in order

    async with running(make_settings()):
        await producer.send({"user_id": asked}, key=key)
        await producer.send({"user_id": sentinel}, key=key)

        async def sentinel_stored() -> bool:
            count = await pg.fetchval(
                "SELECT count(*) FROM report_snapshots WHERE user_id = $1", sentinel
            )
            return bool(count == 1)

        await eventually(sentinel_stored)
        letters = await settled_dead_letters(producer, dlq, 1)

    [letter] = letters
    assert letter.headers["dlq_error_class"] == b"report_for_other_user"
    assert letter.value == json.dumps({"user_id": asked}).encode()
    for user_id in (asked, other):
        for table in ("report_snapshots", "user_events"):
            query = f"SELECT count(*) FROM {table} WHERE user_id = $1"  # noqa: S608 - fixed names
            assert await pg.fetchval(query, user_id) == 0, (table, user_id)
        announced = await pg.fetchval(
            "SELECT count(*) FROM outbox WHERE user_id = $1 AND topic = $2", user_id, topics.output
        )
        assert announced == 0
    quarantined = await pg.fetch(
        "SELECT error_code, user_id, input_value, report_body, sealed_for FROM quarantine"
        " WHERE topic = $1 AND input_value <> $2",  # not the sentinel of settled_dead_letters
        topics.input,
        SENTINEL_VALUE,
    )
    assert [(q["error_code"], str(q["user_id"])) for q in quarantined] == [
        ("report_for_other_user", asked)
    ]
    assert str(quarantined[0]["sealed_for"]) == asked  # sealed under the asked user's key
    keys = await data_keys_of(pg, quarantined)
    # The quarantine keeps the report as stored reports are kept: whole (REPORT_MINIMISATION
    # is off by default), the bytes Alice sent.
    assert quarantined_of(quarantined[0], keys)[1] == body
