"""aiokafka clients for the operator tools: started with a deadline, always closed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient

from service.kafka import client_options
from service.settings import Settings
from service.tools.common import ToolFailed, kafka_failures

START_TIMEOUT_S = 30.0


@asynccontextmanager
async def idempotent_producer(settings: Settings) -> AsyncIterator[AIOKafkaProducer]:
    """An idempotent producer (acks=all); unreachable Kafka becomes a one-line ToolFailed."""
    producer = AIOKafkaProducer(
        **client_options(settings), enable_idempotence=True, acks="all", request_timeout_ms=15_000
    )
    with kafka_failures(settings.kafka_bootstrap_servers):
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                await producer.start()
            yield producer
        finally:
            await producer.stop()


@asynccontextmanager
async def reader(settings: Settings, *, group_id: str | None) -> AsyncIterator[AIOKafkaConsumer]:
    """A consumer that never commits by itself (partitions are assigned by the caller)."""
    options: dict[str, Any] = {
        **client_options(settings),
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        "request_timeout_ms": 15_000,
    }
    consumer = AIOKafkaConsumer(**options)
    with kafka_failures(settings.kafka_bootstrap_servers):
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                await consumer.start()
            yield consumer
        finally:
            await _stop(consumer)


async def _stop(consumer: AIOKafkaConsumer) -> None:
    """Stop the consumer; aiokafka may leak the CancelledError of a helper task it cancels."""
    try:
        await consumer.stop()
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise  # a real cancellation of this tool, not aiokafka's own


async def topic_partitions(settings: Settings, topic: str) -> list[int]:
    """The partition ids of a topic; ToolFailed when it does not exist."""
    admin = AIOKafkaAdminClient(**client_options(settings), request_timeout_ms=15_000)
    with kafka_failures(settings.kafka_bootstrap_servers):
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                await admin.start()
                described = await admin.describe_topics([topic])
        finally:
            await admin.close()
    for found in described:
        if found.get("topic") == topic and not found.get("error_code"):
            return sorted(int(p["partition"]) for p in found.get("partitions", ()))
    raise ToolFailed(f"topic {topic} does not exist")
