"""Faults of PostgreSQL that are nobody's message's fault: read-only after a failover, a revoked
privilege, the code ahead of the schema. Valid messages wait, readiness says why, nothing is
dead-lettered, and everything is stored once the fault ends."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from emulator import AliceEmulator
from tests.integration.operability.conftest import serving, until_status
from tests.integration.pipeline.conftest import Producer, SettingsFactory, eventually

USERS = 4
OUTAGE_FAILURES = 'ingestor_transient_failures_total{reason="storage_outage"}'


async def _terminate_other_sessions(pg: asyncpg.Connection) -> None:
    """Make the service's pool reconnect (a failover does the same)."""
    await pg.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )


async def _read_only(pg: asyncpg.Connection, on: bool) -> None:
    database = await pg.fetchval("SELECT current_database()")
    setting = (
        "SET default_transaction_read_only = on" if on else "RESET default_transaction_read_only"
    )
    await pg.execute(f'ALTER DATABASE "{database}" {setting}')
    await _terminate_other_sessions(pg)


async def _privilege(pg: asyncpg.Connection, on: bool) -> None:
    verb = "REVOKE INSERT ON report_snapshots FROM" if on else "GRANT INSERT ON report_snapshots TO"
    await pg.execute(f"{verb} CURRENT_USER")


async def _schema(pg: asyncpg.Connection, on: bool) -> None:
    old, new = (
        ("face_liveness", "face_liveness_v2") if on else ("face_liveness_v2", "face_liveness")
    )
    await pg.execute(f"ALTER TABLE report_snapshots RENAME COLUMN {old} TO {new}")


FAULTS = {
    "read-only (25006)": (_read_only, "25006"),
    "privilege revoked (42501)": (_privilege, "42501"),
    "column renamed (42703)": (_schema, "42703"),
}


def _outage_failures(metrics_text: str) -> float:
    total = 0.0
    for line in metrics_text.splitlines():
        if line.startswith(OUTAGE_FAILURES):
            total += float(line.rsplit(" ", 1)[1])
    return total


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_database_outage_waits_and_stores_everything_once_it_ends(
    fault: str,
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    pg: asyncpg.Connection,
) -> None:
    """During the fault valid messages are retried beyond the attempt bound, never dead-lettered,
    readiness is 503 naming the SQLSTATE, and once it ends each message is stored exactly once."""
    apply, sqlstate = FAULTS[fault]
    users = [str(uuid.uuid4()) for _ in range(USERS)]
    for user_id in users:
        emulator.create_user(user_id)
    settings = make_settings(transient_max_attempts=2, transient_backoff_max_s=0.5)
    async with serving(settings) as served:
        await until_status(served.http, "/health/ready", 200)
        await apply(pg, True)
        try:
            for n, user_id in enumerate(users):
                await producer.send({"user_id": user_id, "event_id": f"db-fault-{n}-{user_id}"})
            # Far more failed attempts than the bound allows a counted message.
            async with asyncio.timeout(60):
                while _outage_failures((await served.http.get("/metrics")).text) < 3 * USERS:
                    await asyncio.sleep(0.2)
            ready = await until_status(served.http, "/health/ready", 503, timeout=30)
            assert "database" in ready.json()["failing"]
            state = ready.json()["database"]
            assert sqlstate in state or (sqlstate == "25006" and state == "read-only"), state
            assert (await served.http.get("/health/live")).status_code == 200
        finally:
            await apply(pg, False)

        async def all_stored() -> bool:
            count = await pg.fetchval(
                "SELECT count(*) FROM report_snapshots WHERE user_id = ANY($1::uuid[])", users
            )
            return bool(count == USERS)

        await eventually(all_stored, timeout=60)
        await until_status(served.http, "/health/ready", 200, timeout=30)
    outcomes = await pg.fetch("SELECT outcome FROM inbox WHERE user_id = ANY($1::uuid[])", users)
    assert sorted(r["outcome"] for r in outcomes) == ["stored"] * USERS
    quarantined = await pg.fetchval(
        "SELECT count(*) FROM quarantine WHERE user_id = ANY($1::text[])", users
    )
    assert quarantined == 0
