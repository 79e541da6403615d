"""Fixtures of the pipeline tests: the emulator, settings for one test, the running service,
and readers of the output and dead-letter topics. Everything is real: Kafka, PostgreSQL, HTTP."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from emulator import AliceEmulator
from service.app import Service, build_service
from service.settings import Settings
from tests.conftest import TopicFactory

API_KEY = "pipeline-test-key"


@pytest.fixture
async def emulator() -> AsyncIterator[AliceEmulator]:
    """A fresh Alice emulator on a free loopback port."""
    emu = AliceEmulator(api_key=API_KEY, seed=7)
    await emu.start(host="127.0.0.1", port=0)
    yield emu
    await emu.stop()


@dataclass
class Topics:
    """The three topics of one test."""

    input: str
    output: str
    dlq: str


@pytest.fixture
async def topics(new_topic: TopicFactory) -> Topics:
    """Fresh input (2 partitions), output and dead-letter topics."""
    return Topics(
        input=await new_topic("in", partitions=2),
        output=await new_topic("out"),
        dlq=await new_topic("dlq"),
    )


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings(
    kafka_bootstrap: str, database_url: str, emulator: AliceEmulator, topics: Topics
) -> SettingsFactory:
    """Settings for a service under test; keyword arguments override fields."""

    def make(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "kafka_bootstrap_servers": kafka_bootstrap,
            "kafka_input_topic": topics.input,
            "kafka_output_topic": topics.output,
            "kafka_dlq_topic": topics.dlq,
            "kafka_group_id": f"g-{uuid.uuid4().hex[:8]}",
            "database_url": database_url,
            "alice_api_url": emulator.base_url,
            "alice_api_key": API_KEY,
            "alice_retry_attempts": 2,
            "alice_read_timeout_s": 2.0,
            "transient_backoff_initial_s": 0.2,
            "transient_backoff_max_s": 1.0,
            "relay_poll_interval_s": 0.2,
            "http_port": 0,
        }
        values.update(overrides)
        return Settings(**values)

    return make


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Service]:
    """The whole service, started in this event loop, stopped on exit."""
    service = build_service(settings)
    async with service.app:
        yield service


class Producer:
    """Publishes input events to the test's input topic."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self._producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
        self.topic = topic

    async def send(
        self,
        value: bytes | dict[str, Any] | None,
        *,
        key: bytes | str | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> None:
        raw = json.dumps(value).encode() if isinstance(value, dict) else value
        if key is None and isinstance(value, dict) and "user_id" in value:
            key = str(value["user_id"])
        encoded_key = key.encode() if isinstance(key, str) else key
        await self._producer.send_and_wait(self.topic, raw, key=encoded_key, headers=headers)


@pytest.fixture
async def producer(kafka_bootstrap: str, topics: Topics) -> AsyncIterator[Producer]:
    """An idempotent producer onto the input topic."""
    p = Producer(kafka_bootstrap, topics.input)
    await p._producer.start()
    yield p
    await p._producer.stop()


@dataclass
class Received:
    """A record read back from an output topic."""

    key: bytes | None
    value: bytes | None
    headers: dict[str, bytes]

    def json(self) -> Any:
        """The value as JSON."""
        return json.loads(self.value or b"null")


@dataclass
class TopicReader:
    """Reads every record of a topic from the beginning, in the background."""

    bootstrap: str
    topic: str
    records: list[Received] = field(default_factory=list)
    _task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        consumer = AIOKafkaConsumer(
            self.topic, bootstrap_servers=self.bootstrap, auto_offset_reset="earliest"
        )
        await consumer.start()
        try:
            async for record in consumer:
                self.records.append(Received(record.key, record.value, dict(record.headers or ())))
        finally:
            await consumer.stop()

    def start(self) -> None:
        """Start reading."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop reading."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def wait_for(self, count: int, *, timeout: float = 30.0) -> list[Received]:
        """Wait until at least `count` records arrived; fail after `timeout` seconds."""
        async with asyncio.timeout(timeout):
            while len(self.records) < count:
                await asyncio.sleep(0.05)
        return self.records


ReaderFactory = Callable[[str], Awaitable[TopicReader]]


@pytest.fixture
async def read_topic(kafka_bootstrap: str) -> AsyncIterator[ReaderFactory]:
    """Start background readers of topics; stopped after the test."""
    readers: list[TopicReader] = []

    async def make(topic: str) -> TopicReader:
        reader = TopicReader(kafka_bootstrap, topic)
        reader.start()
        readers.append(reader)
        return reader

    yield make
    for reader in readers:
        await reader.stop()


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout: float = 30.0) -> None:
    """Poll `check` until it is true; fail after `timeout` seconds."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.1)
