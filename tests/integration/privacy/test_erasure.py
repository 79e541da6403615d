"""Erasure end to end (GDPR Art. 17): after `erase`, no row of any table holds the user id or
a value of the user's reports, the audit row exists, and `onboarding.user.erased` is published;
the export taken before it held everything."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import asyncpg

from emulator import AliceEmulator
from tests.integration.pipeline.conftest import (
    Producer,
    ReaderFactory,
    SettingsFactory,
    Topics,
    eventually,
    running,
    settings_env,
)
from tests.integration.privacy.conftest import report_values, run_cli, traces

ERASED = b"onboarding.user.erased"


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for value in node.values() for s in _strings(value)]
    if isinstance(node, list):
        return [s for value in node for s in _strings(value)]
    return [node] if isinstance(node, str) else []


async def _stored(pg: asyncpg.Connection, user_id: str, snapshots: int) -> None:
    async def done() -> bool:
        count = await pg.fetchval(
            "SELECT count(*) FROM report_snapshots WHERE user_id = $1", user_id
        )
        return bool(count == snapshots)

    await eventually(done)


def _check_export(
    document: dict[str, Any],
    user_id: str,
    reports: list[dict[str, Any]],
    needles: set[str],
    held: int,
) -> None:
    """The export lists every row of the user, and every value searched for is in it."""
    tables = document["tables"]
    assert document["user_id"] == user_id
    assert len(tables["report_snapshots"]) == 3
    assert len(tables["user_events"]) == held
    assert len(tables["quarantine"]) == 2
    assert len(tables["users"]) == 1
    assert {r["message_id"] for r in tables["inbox"]} >= {"event:e-1", "event:e-2"}
    assert tables["report_snapshots"][-1]["report"] == reports[-1]
    strings = " ".join(_strings(document)).lower()
    missing = [value for value in needles if value.lower() not in strings]
    assert missing == []


async def test_erase_leaves_no_trace_and_export_held_everything(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    read_topic: ReaderFactory,
    topics: Topics,
    pg: asyncpg.Connection,
    tmp_path: Path,
) -> None:
    """A user with three snapshots, user events, derived events and two quarantine rows (an
    invalid input and an invalid report) is exported whole, then erased by the CLI: only the
    audit rows keep the user id, no value of the user's reports is left anywhere, and the
    erasure notice reaches the output topic keyed by the user."""
    user_id = str(uuid.uuid4())
    emulator.create_user(user_id, state="TO_REVIEW")
    reports = [emulator.report(user_id)]
    output = await read_topic(topics.output)
    # Whole reports stored (REPORT_MINIMISATION=none): the export is checked against the
    # reports as Alice sent them, and erasure must find every value a whole report holds.
    settings = make_settings(
        kafka_group_id=f"g-erase-{uuid.uuid4().hex[:8]}", report_minimisation=()
    )
    env = {**settings_env(settings), "PYTHONWARNINGS": "ignore"}
    async with running(settings):
        await producer.send({"user_id": user_id, "event_id": "e-1"})
        await _stored(pg, user_id, 1)
        emulator.set_user_state(user_id, "ACCEPTED")
        reports.append(emulator.report(user_id))
        await producer.send({"user_id": user_id, "event_id": "e-2"})
        await _stored(pg, user_id, 2)
        emulator.add_document(user_id, "passport")
        reports.append(emulator.report(user_id))
        await producer.send({"user_id": user_id, "event_id": "e-3"})
        await _stored(pg, user_id, 3)
        emulator.fault_next(1, "invalid_json")  # a spoiled report: quarantined with its body
        await producer.send({"user_id": user_id, "event_id": "e-4"})
        await producer.send({"user_id": user_id, "occurred_at": "yesterday"})  # invalid input

        async def quarantined() -> bool:
            count = await pg.fetchval(
                "SELECT count(*) FROM quarantine WHERE input_key = $1", user_id.encode()
            )
            return bool(count == 2)

        await eventually(quarantined)
        held = await pg.fetchval("SELECT count(*) FROM user_events WHERE user_id = $1", user_id)
        assert held > 0
        needles = {user_id} | set().union(*(report_values(r) for r in reports))
        before = await traces(pg, needles)
        assert {t for t, _ in before} >= {
            "users",
            "report_snapshots",
            "user_events",
            "inbox",
            "outbox",
            "quarantine",
        }

        exported = tmp_path / "export.json"
        result = await run_cli(
            "export", user_id, "--actor", "dpo@example", "--out", str(exported), env=env
        )
        assert result.code == 0, result.err
        _check_export(json.loads(exported.read_text()), user_id, reports, needles, held)

        result = await run_cli(
            "erase", user_id, "--reason", "Art. 17 request 42", "--actor", "dpo@example", env=env
        )
        assert result.code == 0, result.err
        assert "report_snapshots=3" in result.out

        async def notice() -> bool:
            return any(
                r.key == user_id.encode() and r.headers.get("ce_type") == ERASED
                for r in output.records
            )

        await eventually(notice)
        published = next(r for r in output.records if r.headers.get("ce_type") == ERASED)
        assert published.json()["user_id"] == user_id
        assert published.headers["ce_subject"] == user_id.encode()

        async def sent() -> bool:
            unsent = await pg.fetchval(
                "SELECT count(*) FROM outbox WHERE event_type = $1 AND sent_at IS NULL",
                ERASED.decode(),
            )
            return bool(unsent == 0)

        await eventually(sent)
        result = await run_cli("retention", "--apply", env=env)  # drops the sent notice
        assert result.code == 0, result.err

    after = await traces(pg, needles)
    assert after == {("privacy_audit", "subject"): 2}  # the export's and the erasure's rows
    await _check_audit(pg, user_id, env)


async def _check_audit(pg: asyncpg.Connection, user_id: str, env: dict[str, str]) -> None:
    """The export and the erasure each left one audit row, and `audit --since` lists them."""
    audit = await pg.fetch(
        "SELECT action, actor, reason, counts, request_id FROM privacy_audit"
        " WHERE subject = $1 ORDER BY id",
        user_id,
    )
    assert [(a["action"], a["actor"]) for a in audit] == [
        ("export", "dpo@example"),
        ("erase", "dpo@example"),
    ]
    assert audit[1]["reason"] == "Art. 17 request 42"
    assert json.loads(audit[1]["counts"])["report_snapshots"] == 3
    assert audit[1]["request_id"].startswith("cli:")

    listed = await run_cli("audit", "--since", "2000-01-01T00:00:00Z", env=env)
    assert listed.code == 0, listed.err
    lines = [json.loads(line) for line in listed.out.splitlines()]
    mine = [line for line in lines if line["subject"] == user_id]
    assert [line["action"] for line in mine] == ["export", "erase"]
    assert mine[1]["counts"]["quarantine"] == 2
