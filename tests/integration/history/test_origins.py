"""Origins and other events read from the real tables: a replayed dead letter, a backfill event,
and an unknown user, through the real recording code (no Kafka)."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from pydantic import SecretStr

from service.derive import Thresholds
from service.errors import AliceUnavailable
from service.history.query import user_history
from service.ingest import DeadLetter, Fetched, Ingest, Recorded, content_hash
from service.settings import Settings
from service.store.database import Database
from service.store.repository import MessageRef
from tests.integration.pipeline.conftest import test_data_keys

KEYS = test_data_keys()

EXAMPLE = json.loads(
    (Path(__file__).resolve().parents[2] / "data" / "report-example.json").read_text()
)["report"]
INPUT = "history.input"


OUTPUT, DLQ = "history.origins.out", "history.origins.dlq"


@pytest.fixture
async def database(database_url: str, pg: asyncpg.Connection) -> AsyncIterator[Database]:
    """The service's database adapter on the test database; afterwards, the outbox rows queued
    here are dropped (no topic has them, and a later test's relay must not try to send them)."""
    db = Database.from_settings(
        Settings(database_url=SecretStr(database_url), alice_api_key=SecretStr("k"))
    )
    yield db
    await db.aclose()
    await pg.execute("DELETE FROM outbox WHERE topic = ANY($1::text[])", [OUTPUT, DLQ])


def _ingest(database: Database) -> Ingest:
    return Ingest(
        database=database,
        thresholds=Thresholds(),
        output_topic=OUTPUT,
        dlq_topic=DLQ,
        data_keys=KEYS,
    )


def _report(user_id: str, state: str) -> dict[str, Any]:
    report = copy.deepcopy(EXAMPLE)
    report["user_id"] = user_id
    report["summary"]["state"]["value"] = state
    return report


async def _store(ingest: Ingest, user_id: str, report: dict[str, Any], ref: MessageRef) -> None:
    body = json.dumps({"report": report}, ensure_ascii=False).encode()
    fetched = Fetched(ref, user_id, body, content_hash(body), None, datetime.now(UTC))
    (outcome,) = await ingest.record([fetched])
    assert isinstance(outcome, Recorded)
    assert outcome.outcome == "stored"


async def test_replay_and_backfill_origins(database: Database) -> None:
    """A snapshot stored from a dead letter's id read at another offset is a replay, one from a
    `backfill` event id a backfill; the dead letter itself is listed among the other events."""
    user_id = str(uuid.uuid4())
    ingest = _ingest(database)
    backfill_id = f"event:backfill:{user_id}:run-1"
    await _store(
        ingest, user_id, _report(user_id, "IN_PROGRESS"), MessageRef(backfill_id, INPUT, 0, 1)
    )
    replayed = f"event:replayed-{user_id}"
    letter = DeadLetter(
        ref=MessageRef(replayed, INPUT, 0, 2),
        key=user_id.encode(),
        value=json.dumps({"user_id": user_id}).encode(),
        headers=[],
        user_id=user_id,
        error=AliceUnavailable("Alice answered 503"),
        attempts=3,
    )
    assert (await ingest.dead_letter(letter)).outcome == "dead_lettered"
    await _store(ingest, user_id, _report(user_id, "TO_REVIEW"), MessageRef(replayed, INPUT, 0, 9))

    document = await user_history(
        database, user_id, data_keys=KEYS, reveal=False, actor="t", request_id="r"
    )
    assert document is not None
    origins = [(s["origin"]["kind"], s["origin"]["source"]) for s in document["snapshots"]]
    assert origins == [
        ("backfill", {"topic": INPUT, "partition": 0, "offset": 1}),
        ("replay", {"topic": INPUT, "partition": 0, "offset": 9}),
    ]
    assert document["snapshots"][1]["diff"]["state"] == {"from": "IN_PROGRESS", "to": "TO_REVIEW"}
    assert [e["type"] for e in document["other_events"]] == ["dead_letter"]


async def test_unknown_user_has_no_history(database: Database) -> None:
    """A user id the service never stored gives None (the CLI's exit 1, the API's 404)."""
    assert (
        await user_history(
            database, str(uuid.uuid4()), data_keys=KEYS, reveal=False, actor="t", request_id="r"
        )
        is None
    )
