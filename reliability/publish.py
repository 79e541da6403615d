"""What scenarios publish: records with what the ledger should find for each, and where they went.

Every record is published with an idempotent producer (acks=all) and its partition and offset
are kept from the broker's acknowledgement: the ledger follows each record by its offset, the
one identity that a record has whatever its content.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from aiokafka import AIOKafkaProducer

Expect = Literal["processed", "dead_lettered", "either"]
Header = tuple[str, bytes | None]


@dataclass(frozen=True)
class Record:
    """One record to publish and the fate the ledger expects for it."""

    value: bytes | None
    key: bytes | None = None
    headers: tuple[Header, ...] = ()
    expect: Expect = "processed"
    kind: str = "valid"
    user_id: str | None = None
    partition: int | None = None


@dataclass(frozen=True)
class Published:
    """A record the broker acknowledged: where it is, and what it should become."""

    partition: int
    offset: int
    record: Record


@dataclass
class Publisher:
    """One producer for a scenario; remembers everything it published."""

    bootstrap: str
    topic: str
    published: list[Published] = field(default_factory=list)
    _producer: AIOKafkaProducer | None = None

    async def __aenter__(self) -> Publisher:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            enable_idempotence=True,
            acks="all",
            linger_ms=5,
            max_request_size=4 * 2**20,
            request_timeout_ms=60_000,
        )
        await self._producer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._producer is not None:
            await self._producer.stop()

    async def send(self, records: Iterable[Record]) -> list[Published]:
        """Publish in order and wait for every acknowledgement."""
        assert self._producer is not None  # noqa: S101 - used inside `async with`
        pending = []
        for record in records:
            future = await self._producer.send(
                self.topic,
                record.value,
                key=record.key,
                headers=list(record.headers),  # None values are valid on the wire
                partition=record.partition,
            )
            pending.append((record, future))
        done = []
        for record, future in pending:
            metadata = await future
            done.append(Published(metadata.partition, metadata.offset, record))
        self.published.extend(done)
        return done

    async def paced(self, records: list[Record], *, rate: float) -> None:
        """Publish at about `rate` records/s (batches every 100 ms)."""
        per_tick = max(1, round(rate / 10))
        for start in range(0, len(records), per_tick):
            await self.send(records[start : start + per_tick])
            await asyncio.sleep(0.1)


def event(user_id: str, event_id: str, **extra: object) -> Record:
    """A valid onboarding-completed record keyed by its user."""
    body = {"user_id": user_id, "event_id": event_id, **extra}
    return Record(json.dumps(body).encode(), key=user_id.encode(), user_id=user_id)


def events(prefix: str, users: list[str], count: int, *, seed: int = 0) -> list[Record]:
    """`count` valid events for users drawn with a seeded RNG; ids `prefix-i`."""
    rng = random.Random(f"{seed}:{prefix}")
    return [event(rng.choice(users), f"{prefix}-{i}") for i in range(count)]


def user_ids(prefix: str, count: int) -> list[str]:
    """Distinct, reproducible UUIDs for a scenario's users."""
    return [str(uuid.uuid5(uuid.NAMESPACE_URL, f"reliability/{prefix}/{i}")) for i in range(count)]
