"""The main job end to end: an onboarding-completed event becomes a snapshot, its events and
derived CloudEvents on the output topic."""

from __future__ import annotations

import uuid

import asyncpg

from emulator import AliceEmulator
from tests.integration.pipeline.conftest import (
    Producer,
    ReaderFactory,
    SettingsFactory,
    Topics,
    distinct_types,
    eventually,
    running,
)

CE_HEADERS = {
    "ce_specversion",
    "ce_id",
    "ce_source",
    "ce_type",
    "ce_time",
    "ce_subject",
    "ce_dataschema",
    "content-type",
}


async def test_event_becomes_snapshot_events_and_derived_cloudevents(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    read_topic: ReaderFactory,
    topics: Topics,
    pg: asyncpg.Connection,
) -> None:
    """One event stores one snapshot with its user events and publishes the derived events."""
    user_id = str(uuid.uuid4())
    emulator.create_user(user_id, state="TO_REVIEW")
    report = emulator.report(user_id)
    output = await read_topic(topics.output)
    async with running(make_settings()):
        await producer.send({"user_id": user_id, "event_id": "evt-1"})

        async def stored() -> bool:
            count = await pg.fetchval(
                "SELECT count(*) FROM report_snapshots WHERE user_id = $1", user_id
            )
            return bool(count == 1)

        await eventually(stored)
        expected_types = 1 + len(report["documents"]) + len(report["selfies"])
        records = await output.wait_for(expected_types)

    snapshot = await pg.fetchrow("SELECT * FROM report_snapshots WHERE user_id = $1", user_id)
    assert snapshot is not None
    assert str(snapshot["report_id"]) == report["id"]
    assert snapshot["state"] == "TO_REVIEW"
    events = await pg.fetch("SELECT event_id FROM user_events WHERE user_id = $1", user_id)
    assert {e["event_id"] for e in events} == {e["id"] for e in report["events"]}
    user = await pg.fetchrow(
        "SELECT state, last_snapshot_id FROM users WHERE user_id = $1", user_id
    )
    assert user is not None
    assert user["state"] == "TO_REVIEW"
    assert user["last_snapshot_id"] == snapshot["id"]

    types = list(distinct_types(records))
    assert types[0] == "onboarding.user.state_changed"
    assert types.count("onboarding.document.added") == len(report["documents"])
    assert types.count("onboarding.selfie.added") == len(report["selfies"])
    for record in records:
        assert set(record.headers) >= CE_HEADERS
        assert record.key == user_id.encode()
        assert record.headers["ce_subject"] == user_id.encode()
        assert record.headers["content-type"] == b"application/json"
        body = record.json()
        assert body["user_id"] == user_id
        assert body["report_id"] == report["id"]
    state_changed = records[0].json()
    assert state_changed["from"] is None
    assert state_changed["to"] == "TO_REVIEW"
    assert set(state_changed["results"]) == {
        "selfie_security",
        "document_security",
        "document_read",
        "process_security",
    }
