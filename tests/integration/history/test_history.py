"""Per-user history end to end on the real stack: a user goes through three snapshots (two input
events, then a decision the reconciler finds with no event), and both the `history` command and
the HTTP API inside the service show the timeline with its diffs and derived events, masked."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from emulator import AliceEmulator
from tests.integration.pipeline.conftest import (
    TEST_KEKS,
    Producer,
    SettingsFactory,
    eventually,
    running,
)

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "history-test-token-0123456789"
AUTH = {"authorization": f"Bearer {TOKEN}"}
FAST = {"reconcile_interval_s": 1.0, "reconcile_backoff_s": (1.0, 2.0)}


@pytest.fixture(autouse=True)
async def _only_this_tests_users(pg: asyncpg.Connection) -> AsyncIterator[None]:
    """Users of earlier tests (one database per session) are left out of reconciliation while
    this test runs, and put back afterwards (as in the reconciler's tests)."""
    await pg.execute(
        "UPDATE users SET reconcile_state = 'other_test' WHERE reconcile_state IS NULL"
    )
    yield
    await pg.execute("UPDATE users SET reconcile_state = NULL WHERE reconcile_state = 'other_test'")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _snapshots(pg: asyncpg.Connection, user_id: str) -> int:
    return int(
        await pg.fetchval("SELECT count(*) FROM report_snapshots WHERE user_id = $1", user_id)
    )


async def _cli(*args: str, database_url: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        "history",
        *args,
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "ALICE_API_KEY": "",
            "ENCRYPTION_KEYS": TEST_KEKS,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(120):
        out, err = await process.communicate()
    return int(process.returncode or 0), out.decode(), err.decode()


def _user_field(report: dict[str, Any], name: str) -> str:
    (value,) = [f["value"] for f in report["summary"]["user_data"] if f["name"] == name]
    return str(value)


async def _audit_rows(pg: asyncpg.Connection, user_id: str) -> list[str]:
    rows = await pg.fetch(
        "SELECT actor FROM privacy_audit WHERE action = 'history_reveal' AND subject = $1"
        " ORDER BY id",
        user_id,
    )
    return [r["actor"] for r in rows]


async def test_history_shows_three_snapshots_with_diffs_and_events(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    pg: asyncpg.Connection,
    database_url: str,
) -> None:
    """TO_REVIEW (input event) -> new liveness (input event) -> ACCEPTED with a passport added
    (reconciler, no event): the CLI and the HTTP API list three snapshots with those origins,
    diffs and derived events, personal values masked; reveal writes an audit row; no token, 401."""
    user_id = str(uuid.uuid4())
    emulator.create_user(user_id, state="TO_REVIEW", features=())
    emulator.set_scores(user_id, liveness=12.5)
    async with running(make_settings()):
        await producer.send({"user_id": user_id, "event_id": f"h1-{user_id}"})
        await eventually(lambda: _has(pg, user_id, 1), timeout=60)
        emulator.set_scores(user_id, liveness=91.0)
        await producer.send({"user_id": user_id, "event_id": f"h2-{user_id}"})
        await eventually(lambda: _has(pg, user_id, 2), timeout=60)

    # A reviewer accepts the user at Alice, with a passport added; no event reaches Kafka.
    before = {d["id"] for d in emulator.report(user_id)["documents"]}
    emulator.add_document(user_id, "passport", issuing_country="PRT")
    emulator.set_user_state(user_id, "ACCEPTED")
    report = emulator.report(user_id)
    (passport,) = [d["id"] for d in report["documents"] if d["id"] not in before]
    first_name = _user_field(report, "first_name")
    port = _free_port()
    settings = make_settings(
        reconcile_enabled=True,
        http_host="127.0.0.1",
        history_api_port=port,
        history_api_tokens=SecretStr(f"reviewer:{TOKEN}"),
        **FAST,
    )
    async with running(settings):
        await eventually(lambda: _has(pg, user_id, 3), timeout=60)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            path = f"/v1/users/{user_id}/history"
            assert (await http.get(path)).status_code == 401
            masked = await http.get(path, headers=AUTH)
            revealed = await http.get(path, params={"reveal": "true"}, headers=AUTH)
            unknown = await http.get(f"/v1/users/{uuid.uuid4()}/history", headers=AUTH)
            bad = await http.get("/v1/users/nope/history", headers=AUTH)
    assert (masked.status_code, revealed.status_code) == (200, 200)
    assert (unknown.status_code, bad.status_code) == (404, 400)

    document = masked.json()
    await _assert_timeline(document, pg, user_id=user_id, passport=passport)
    first = document["snapshots"][0]
    names = {c["name"]: c["to"] for c in first["diff"]["user_data"]}
    # The first three characters, then *** (a name of three characters or fewer: *** alone).
    assert names["user_data.first_name"] == (
        first_name[:3] + "***" if len(first_name) > 3 else "***"
    )
    assert first_name not in masked.text
    assert first_name in revealed.text
    assert revealed.json()["revealed"] is True
    assert await _audit_rows(pg, user_id) == ["api:reviewer"]

    await _assert_cli(
        document, pg, user_id=user_id, first_name=first_name, database_url=database_url
    )


async def _has(pg: asyncpg.Connection, user_id: str, count: int) -> bool:
    return await _snapshots(pg, user_id) >= count


async def _assert_timeline(
    document: dict[str, Any], pg: asyncpg.Connection, *, user_id: str, passport: str
) -> None:
    """Three snapshots with their origins, diffs and the outbox's events of each."""
    first, second, third = document["snapshots"]
    assert [s["origin"]["kind"] for s in (first, second, third)] == [
        "input_event",
        "input_event",
        "reconciler",
    ]
    assert first["origin"]["message_id"] == f"event:h1-{user_id}"
    assert first["diff"]["state"] == {"from": None, "to": "TO_REVIEW"}
    assert second["diff"]["state"] is None
    assert {"name": "face_liveness", "from": 12.5, "to": 91.0} in second["diff"]["scores"]
    assert third["diff"]["state"] == {"from": "TO_REVIEW", "to": "ACCEPTED"}
    assert [(d["id"], d["type"]) for d in third["diff"]["documents_added"]] == [
        (passport, "passport")
    ]
    # The events, read here from the outbox by their content, are the ones listed per snapshot.
    accepted = await pg.fetchval(
        "SELECT event_id::text FROM outbox WHERE user_id = $1"
        " AND event_type = 'onboarding.user.state_changed'"
        " AND convert_from(payload, 'UTF8')::jsonb ->> 'to' = 'ACCEPTED'",
        user_id,
    )
    added = await pg.fetchval(
        "SELECT event_id::text FROM outbox WHERE user_id = $1"
        " AND event_type = 'onboarding.document.added'"
        " AND convert_from(payload, 'UTF8')::jsonb ->> 'document_id' = $2",
        user_id,
        passport,
    )
    third_ids = {e["event_id"] for e in third["derived_events"]}
    assert {accepted, added} <= third_ids
    assert "onboarding.user.state_changed" in {e["type"] for e in first["derived_events"]}
    assert not third_ids & {e["event_id"] for e in first["derived_events"]}


async def _assert_cli(
    document: dict[str, Any],
    pg: asyncpg.Connection,
    *,
    user_id: str,
    first_name: str,
    database_url: str,
) -> None:
    """The command shows what the API served (JSON and text), masked; --reveal is audited."""
    code, out, _ = await _cli(user_id, "--json", database_url=database_url)
    assert code == 0
    from_cli = json.loads(out)
    assert [s["diff"] for s in from_cli["snapshots"]] == [s["diff"] for s in document["snapshots"]]
    assert [[e["event_id"] for e in s["derived_events"]] for s in from_cli["snapshots"]] == [
        [e["event_id"] for e in s["derived_events"]] for s in document["snapshots"]
    ]
    code, out, _ = await _cli(user_id, database_url=database_url)
    assert code == 0
    assert "via reconciler (no event)" in out
    assert "state: TO_REVIEW -> ACCEPTED" in out
    assert first_name not in out
    code, out, _ = await _cli(user_id, "--reveal", "--actor", "tester", database_url=database_url)
    assert code == 0
    assert first_name in out
    assert await _audit_rows(pg, user_id) == ["api:reviewer", "tester"]
    code, _, err = await _cli(str(uuid.uuid4()), database_url=database_url)
    assert code == 1
    assert "no such user" in err
    code, _, _ = await _cli("not-a-uuid", database_url=database_url)
    assert code == 2
