"""Crash recovery: a service killed after its database commit and before its offset commit
redelivers the message on restart, and nothing is stored or published twice."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path

import asyncpg

from emulator import AliceEmulator
from tests.integration.pipeline.conftest import (
    Producer,
    ReaderFactory,
    SettingsFactory,
    Topics,
    committed_offsets,
    create_plain_user,
    eventually,
    metric,
    running,
    settings_env,
    settled,
)

ROOT = Path(__file__).resolve().parents[3]


async def test_kill_between_db_commit_and_offset_commit_doubles_nothing(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    read_topic: ReaderFactory,
    topics: Topics,
    pg: asyncpg.Connection,
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    """After SIGKILL between the database commit and the offset commit, the restarted service
    takes the redelivered message as a duplicate: one snapshot, one set of outbox rows, the
    same ce_ids on the output topic once each, and the offset committed at last."""
    user_id = str(uuid.uuid4())
    derived = create_plain_user(emulator, user_id)
    group_id = f"g-crash-{uuid.uuid4().hex[:8]}"
    # The minimum session timeout, so the killed member leaves the group soon after the kill.
    first_run = make_settings(
        kafka_group_id=group_id, kafka_commit_interval_s=3600, kafka_session_timeout_ms=6000
    )
    output = await read_topic(topics.output)
    log_path = tmp_path / "service.log"

    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "service",
            "run",
            cwd=ROOT,
            env={**os.environ, **settings_env(first_run), "HTTP_PORT": "0"},
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            await producer.send({"user_id": user_id, "event_id": f"crash-{uuid.uuid4().hex}"})

            async def published() -> bool:
                if process.returncode is not None:
                    raise AssertionError(f"the service exited: {log_path.read_text()[-2000:]}")
                sent = await pg.fetchval(
                    "SELECT count(*) FROM outbox WHERE user_id = $1 AND sent_at IS NOT NULL",
                    user_id,
                )
                return bool(sent == derived)

            await eventually(published, timeout=120)
            before = await output.wait_for(derived)
            # The window: recorded and published, and no offset committed.
            assert await committed_offsets(kafka_bootstrap, group_id, topics.input) == {}
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGKILL)
            await process.wait()
    assert process.returncode == -signal.SIGKILL
    ce_ids_before = [r.headers["ce_id"] for r in before]

    async with running(
        make_settings(kafka_group_id=group_id, kafka_session_timeout_ms=6000)
    ) as service:

        async def redelivered() -> bool:
            return metric(service, "ingestor_messages_total", outcome="duplicate") == 1

        await eventually(redelivered, timeout=120)
        partition = await pg.fetchval("SELECT partition FROM inbox WHERE user_id = $1", user_id)

        async def committed() -> bool:
            offsets = await committed_offsets(kafka_bootstrap, group_id, topics.input)
            return offsets.get(partition) == 1

        await eventually(committed)
        stored_after_restart = metric(service, "ingestor_messages_total", outcome="stored")
        records = await settled(producer, emulator, output, derived)

    assert stored_after_restart == 0
    assert [r.headers["ce_id"] for r in records] == ce_ids_before
    assert len(set(ce_ids_before)) == derived
    snapshots = await pg.fetchval(
        "SELECT count(*) FROM report_snapshots WHERE user_id = $1", user_id
    )
    assert snapshots == 1
    outbox = await pg.fetchval("SELECT count(*) FROM outbox WHERE user_id = $1", user_id)
    assert outbox == derived
    inbox = await pg.fetch("SELECT outcome FROM inbox WHERE user_id = $1", user_id)
    assert [r["outcome"] for r in inbox] == ["stored"]
