"""The health and metrics endpoints served over real HTTP, healthy and with each failure."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from emulator import AliceEmulator
from tests.integration.operability.conftest import (
    ROOT,
    TcpProxy,
    metric_total,
    serving,
    until_status,
)
from tests.integration.pipeline.conftest import Producer, SettingsFactory

MESSAGES = "ingestor_messages_total"


async def test_healthy_service_is_live_ready_and_counts_messages(
    make_settings: SettingsFactory, emulator: AliceEmulator, producer: Producer
) -> None:
    """Healthy: live 200, ready 200, and /metrics parses with the message counter moving."""
    user_id = str(uuid.uuid4())
    emulator.create_user(user_id)
    async with serving(make_settings()) as served:
        await until_status(served.http, "/health/ready", 200)
        live = await served.http.get("/health/live")
        assert live.status_code == 200
        assert live.json()["status"] == "ok"
        before = metric_total((await served.http.get("/metrics")).text, MESSAGES)

        await producer.send({"user_id": user_id, "event_id": "health-1"})

        async with asyncio.timeout(60):
            while metric_total((await served.http.get("/metrics")).text, MESSAGES) <= before:
                await asyncio.sleep(0.2)


async def test_database_gone_fails_readiness_not_liveness(
    make_settings: SettingsFactory, database_url: str
) -> None:
    """With PostgreSQL unreachable, ready is 503 naming the database while live stays 200."""
    real = make_url(database_url)
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432)
    await proxy.start()
    proxied = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    try:
        async with serving(make_settings(database_url=proxied)) as served:
            await until_status(served.http, "/health/ready", 200)

            await proxy.close()
            ready = await until_status(served.http, "/health/ready", 503, timeout=30)
            assert ready.json()["database"].startswith("unreachable")
            assert "database" in ready.json()["failing"]
            assert ready.json()["broker"] == "ok"
            assert (await served.http.get("/health/live")).status_code == 200

            await proxy.start()  # the database is back: so is readiness
            await until_status(served.http, "/health/ready", 200, timeout=30)
    finally:
        await proxy.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def _kafka_script(command: str, env: dict[str, str]) -> None:
    process = await asyncio.create_subprocess_exec(
        str(ROOT / "deploy/local/kafka.sh"),
        command,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(300):
        _, err = await process.communicate()
    assert process.returncode == 0, err.decode()[-2000:]


@pytest.mark.timeout(900)
async def test_broker_gone_fails_readiness_not_liveness(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    """With its own Kafka broker stopped, ready is 503 naming the broker while live stays 200."""
    port, controller = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if k != "KAFKA_BOOTSTRAP_SERVERS"}
    env |= {
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(controller),
        "STACK_DIR": str(tmp_path / "stack"),
        "STACK_OWNER_PID": str(os.getpid()),  # its watchdog stops it if this run dies
        "STACK_MAX_LIFETIME_S": "900",
    }
    await _kafka_script("start", env)
    try:
        settings = make_settings(
            kafka_bootstrap_servers=f"127.0.0.1:{port}",
            kafka_create_topics=True,
            kafka_topic_partitions=1,
            shutdown_timeout_s=4.0,
        )
        async with serving(settings) as served:
            await until_status(served.http, "/health/ready", 200, timeout=120)

            await _kafka_script("stop", env)
            ready = await until_status(served.http, "/health/ready", 503, timeout=60)
            assert ready.json()["broker"] == "unreachable"
            assert "broker" in ready.json()["failing"]
            assert ready.json()["database"] == "ok"
            assert (await served.http.get("/health/live")).status_code == 200
    finally:
        await _kafka_script("stop", env)


async def test_hung_alice_call_fails_liveness(
    make_settings: SettingsFactory, emulator: AliceEmulator, producer: Producer
) -> None:
    """A message whose Alice call hangs with no progress makes live 503 until it completes."""
    user_id = str(uuid.uuid4())
    emulator.create_user(user_id)
    emulator.fault_next(1, "slow", delay_ms=10_000)  # headers at once, the body 10 s later
    settings = make_settings(
        liveness_stall_s=1.0, alice_read_timeout_s=30.0, alice_retry_attempts=1
    )
    async with serving(settings) as served:
        await until_status(served.http, "/health/ready", 200)
        await producer.send({"user_id": user_id, "event_id": "stuck-1"})

        stuck = await until_status(served.http, "/health/live", 503, timeout=30)
        assert stuck.json()["status"] == "stuck"
        assert stuck.json()["in_flight"] == 1
        await until_status(served.http, "/health/live", 200, timeout=30)


async def test_retrying_is_progress_not_a_stall(
    make_settings: SettingsFactory, emulator: AliceEmulator, producer: Producer
) -> None:
    """Backoff pauses longer than LIVENESS_STALL_S between retries never make live fail."""
    user_id = str(uuid.uuid4())
    emulator.create_user(user_id)
    emulator.fail_next(4, 503)
    settings = make_settings(
        liveness_stall_s=1.0,
        alice_retry_attempts=1,
        transient_backoff_initial_s=1.5,
        transient_backoff_max_s=1.5,
    )
    async with serving(settings) as served:
        await until_status(served.http, "/health/ready", 200)
        before = metric_total((await served.http.get("/metrics")).text, MESSAGES)
        await producer.send({"user_id": user_id, "event_id": "retry-1"})

        statuses = []
        async with asyncio.timeout(60):
            while metric_total((await served.http.get("/metrics")).text, MESSAGES) <= before:
                statuses.append((await served.http.get("/health/live")).status_code)
                await asyncio.sleep(0.1)
        assert emulator.counts().status("user_report", 503) == 4
        assert set(statuses) == {200}
