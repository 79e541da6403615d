"""Fixtures of the pipeline tests: the emulator, settings for one test, the running service,
and readers of the output and dead-letter topics. Everything is real: Kafka, PostgreSQL, HTTP."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp import web
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import SecretStr

from emulator import AliceEmulator
from service.app import Service, build_service
from service.crypto import DataKeys, Keyring
from service.crypto.keyring import new_kek_text, parse_keys
from service.settings import Settings
from tests.conftest import TopicFactory

API_KEY = "pipeline-test-key"
# The session's key-encryption key: the services, tools and helpers of one run share it.
TEST_KEKS = new_kek_text("test-1")


def test_data_keys() -> DataKeys:
    """Data keys under the session's KEK (for tests that build the use cases themselves)."""
    return DataKeys(Keyring.of(parse_keys(TEST_KEKS)))


test_data_keys.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


async def data_keys_of(pg: asyncpg.Connection, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The data keys (under the session's KEK) of the users owning these rows' sealed values,
    for `service.crypto.reader`'s `report_of`, `event_of` and `quarantined_of`."""
    owners = {str(o) for r in rows for o in (r.get("sealed_for"), r.get("user_id")) if o}
    found = await pg.fetch(
        "SELECT user_id::text AS u, kek_id, wrapped FROM data_keys"
        " WHERE user_id::text = ANY($1::text[])",
        sorted(owners),
    )
    keys = test_data_keys()
    return {r["u"]: keys.cipher(r["u"], (r["kek_id"], bytes(r["wrapped"]))) for r in found}


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
async def topics(new_topic: TopicFactory, pg: asyncpg.Connection) -> AsyncIterator[Topics]:
    """Fresh input (2 partitions), output and dead-letter topics; afterwards, outbox rows still
    queued for them are dropped (the topics are deleted, and the database is shared)."""
    fresh = Topics(
        input=await new_topic("in", partitions=2),
        output=await new_topic("out"),
        dlq=await new_topic("dlq"),
    )
    yield fresh
    await pg.execute(
        "DELETE FROM outbox WHERE sent_at IS NULL AND topic = ANY($1::text[])",
        [fresh.output, fresh.dlq],
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
            "allow_insecure_alice_url": True,  # the emulator serves http://127.0.0.1
            "alice_api_key": API_KEY,
            "encryption_keys": TEST_KEKS,
            "alice_retry_attempts": 2,
            "alice_read_timeout_s": 2.0,
            "transient_backoff_initial_s": 0.2,
            "transient_backoff_max_s": 1.0,
            "relay_poll_interval_s": 0.2,
            "http_port": 0,
            # Off unless a test turns it on: the database is shared by the session's tests, and a
            # reconciler would check earlier tests' users against this test's emulator.
            "reconcile_enabled": False,
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
        partition: int | None = None,
    ) -> None:
        raw = json.dumps(value).encode() if isinstance(value, dict) else value
        if key is None and isinstance(value, dict) and "user_id" in value:
            key = str(value["user_id"])
        encoded_key = key.encode() if isinstance(key, str) else key
        await self._producer.send_and_wait(
            self.topic, raw, key=encoded_key, headers=headers, partition=partition
        )


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


# --- Helpers of the failure and recovery tests ---------------------------------------------------


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment variables that make `Settings()` equal `settings` (for a subprocess)."""
    env: dict[str, str] = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if value is None:
            continue
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, bool):
            value = "true" if value else "false"
        env[name.upper()] = str(value)
    return env


async def committed_offsets(bootstrap: str, group_id: str, topic: str) -> dict[int, int]:
    """The consumer group's committed offset of each partition of `topic` (absent: none)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group_id)
    finally:
        await admin.close()
    return {tp.partition: meta.offset for tp, meta in offsets.items() if tp.topic == topic}


async def settled(
    producer: Producer,
    emulator: AliceEmulator,
    reader: TopicReader,
    count: int,
    *,
    timeout: float = 60.0,
) -> list[Received]:
    """Wait for `count` records on the output topic, then prove that no more come: publish a
    sentinel event for a fresh user and wait for its derived events.

    Call it once the subject's messages are recorded (inbox rows, committed offsets): whatever
    they add is then queued in the outbox before the sentinel's rows, and the relay publishes a
    topic in outbox order, so a late or repeated record shows up before the sentinel does.
    Returns the records that are not the sentinel's, and asserts there are exactly `count`.
    """
    await reader.wait_for(count, timeout=timeout)
    sentinel = str(uuid.uuid4())
    emulator.create_user(sentinel, state="TO_REVIEW")
    await producer.send({"user_id": sentinel, "event_id": f"sentinel-{sentinel}"})
    key = sentinel.encode()
    async with asyncio.timeout(timeout):
        while not any(
            r.key == key and r.headers.get("ce_type") == b"onboarding.user.state_changed"
            for r in reader.records
        ):
            await asyncio.sleep(0.05)
    others = [r for r in reader.records if r.key != key]
    assert len(others) == count, f"{len(others) - count} unexpected record(s)"
    return others


SENTINEL_VALUE = b"sentinel: not JSON"


async def settled_dead_letters(
    producer: Producer,
    reader: TopicReader,
    count: int,
    *,
    partition: int | None = None,
    timeout: float = 60.0,
) -> list[Received]:
    """`settled` for the dead-letter topic: the sentinel is an invalid record of its own
    (value SENTINEL_VALUE, a key of its own), published to `partition` when given.

    Call it once the subject's records are in: whatever they add is then queued in the outbox
    before the sentinel's row, and the relay publishes a topic in outbox order. Give the
    subject's partition when its records are all on one: the sentinel is then fetched after
    every one of them too (a re-fetch of the subject would fetch it again).
    Returns the dead letters that are not the sentinel's, and asserts there are exactly `count`.
    """
    await reader.wait_for(count, timeout=timeout)
    key = f"sentinel-{uuid.uuid4()}".encode()
    await producer.send(SENTINEL_VALUE, key=key, partition=partition)
    async with asyncio.timeout(timeout):
        while not any(r.key == key for r in reader.records):
            await asyncio.sleep(0.05)
    others = [r for r in reader.records if r.key != key]
    assert len(others) == count, f"{len(others) - count} unexpected dead letter(s)"
    return others


def metric(service: Service, name: str, **labels: str) -> float:
    """The current value of one sample of the service's Prometheus registry (0 when absent)."""
    return service.registry.get_sample_value(name, labels) or 0.0


def _jwt_user_id(authorization: str) -> str | None:
    """The `user_id` claim of a bearer JWT, read without checking the signature."""
    _, _, token = authorization.partition(" ")
    parts = token.split(".")
    if len(parts) != 3:
        return None
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except ValueError:
        return None
    user_id = claims.get("user_id") if isinstance(claims, dict) else None
    return str(user_id) if user_id is not None else None


class AliceGateway:
    """A real HTTP proxy in front of the emulator, adding the two faults the emulator lacks.

    The emulator's `/healthcheck` is never faulty and its faults are not per user; the gateway
    can answer `/healthcheck` with an error (Alice down as a whole, as the service's probe sees
    it) and answer 503 to the report requests of chosen users (a poison message).
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.healthcheck_status: int | None = None  # None: forwarded to the emulator
        self.failing_users: set[str] = set()
        self.report_calls: dict[str, int] = {}  # per user id, served or failed
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self.base_url = ""

    async def start(self) -> None:
        """Serve on a free loopback port."""
        app = web.Application()
        app.router.add_route("*", "/{path:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        self._http = aiohttp.ClientSession(auto_decompress=False)

    async def stop(self) -> None:
        """Stop serving."""
        if self._http is not None:
            await self._http.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/healthcheck" and self.healthcheck_status is not None:
            return web.json_response({"detail": "down"}, status=self.healthcheck_status)
        if request.path == "/user/report":
            user_id = _jwt_user_id(request.headers.get("Authorization", "")) or "?"
            self.report_calls[user_id] = self.report_calls.get(user_id, 0) + 1
            if user_id in self.failing_users:
                return web.json_response({"detail": "unavailable"}, status=503)
        assert self._http is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_HEADERS}
        async with self._http.request(
            request.method,
            self.upstream + request.path_qs,
            headers=headers,
            data=await request.read(),
        ) as answer:
            body = await answer.read()
            kept = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_HEADERS}
            return web.Response(status=answer.status, body=body, headers=kept)


_HOP_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive"}
)


@pytest.fixture
async def gateway(emulator: AliceEmulator) -> AsyncIterator[AliceGateway]:
    """A fault-adding proxy in front of the emulator (use its base_url as ALICE_API_URL)."""
    proxy = AliceGateway(emulator.base_url)
    await proxy.start()
    yield proxy
    await proxy.stop()


# What the first report of a plain user derives, written out: its state from null, its two
# documents, its selfie, and no risk (the emulator's document checks pass, its documents expire
# years after the report, and create_plain_user pins liveness and face matching at 90).
FIRST_EVENTS = (
    "onboarding.user.state_changed",
    "onboarding.document.added",
    "onboarding.document.added",
    "onboarding.selfie.added",
)


def create_plain_user(emulator: AliceEmulator, user_id: str) -> int:
    """Create a user whose first report derives exactly FIRST_EVENTS; returns how many."""
    emulator.create_user(user_id)
    emulator.set_scores(user_id, liveness=90.0, face_matching=90.0)
    return len(FIRST_EVENTS)


def distinct_types(records: list[Received]) -> tuple[str, ...]:
    """The ce_type of each record, in order of arrival, asserting that no ce_id arrived twice:
    with no crash in the test, the relay must publish each record once (it never re-sends a
    record whose acknowledgement came late)."""
    ids = [record.headers["ce_id"] for record in records]
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} record(s) published twice"
    return tuple(record.headers["ce_type"].decode() for record in records)
