"""What scenarios publish: records with what the ledger should find for each, and where they went.

Every record is published with an idempotent producer (acks=all) and its partition and offset
are kept from the broker's acknowledgement: the ledger follows each record by its offset, the
one identity that a record has whatever its content.
"""

from __future__ import annotations

import asyncio
import json
import random
import secrets
import struct
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from aiokafka import AIOKafkaProducer
from aiokafka.codec import gzip_encode
from aiokafka.partitioner import DefaultPartitioner
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.util import calc_crc32c

Expect = Literal["processed", "dead_lettered", "either"]
# A header key given as bytes is written as those bytes, UTF-8 or not (see `record_batch`).
Header = tuple[str | bytes, bytes | None]


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
    _raw: AIOKafkaProducer | None = None

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
        if self._raw is not None:
            await self._raw.stop()

    async def send(self, records: Iterable[Record]) -> list[Published]:
        """Publish in order and wait for every acknowledgement."""
        assert self._producer is not None  # noqa: S101 - used inside `async with`
        pending: list[tuple[Record, asyncio.Future[Any]]] = []
        done: list[Published] = []
        for record in records:
            if any(isinstance(k, bytes) for k, _ in record.headers):
                done.extend(await _acknowledged(pending))  # keep the order of the records
                pending = []
                done.append(await self._send_raw(record))
                continue
            future = await self._producer.send(
                self.topic,
                record.value,
                key=record.key,
                headers=[(str(k), v) for k, v in record.headers],  # None values are valid
                partition=record.partition,
            )
            pending.append((record, future))
        done.extend(await _acknowledged(pending))
        self.published.extend(done)
        return done

    async def _send_raw(self, record: Record) -> Published:
        """A record with a header key given as bytes, as a batch of its own (a plain producer:
        the idempotent one rewrites the batches it sends)."""
        if self._raw is None:
            self._raw = AIOKafkaProducer(bootstrap_servers=self.bootstrap, acks="all")
            await self._raw.start()
        partition = record.partition
        if partition is None:
            partitions = sorted(await self._raw.partitions_for(self.topic))
            partition = DefaultPartitioner()(record.key, partitions, partitions)
        records = [(record.key, record.value, record.headers)]
        offset = await send_raw_records(self._raw, self.topic, partition, records)
        return Published(partition, offset, record)

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


async def _acknowledged(pending: list[tuple[Record, asyncio.Future[Any]]]) -> list[Published]:
    done = []
    for record, future in pending:
        metadata = await future
        done.append(Published(metadata.partition, metadata.offset, record))
    return done


RawRecord = tuple[bytes | None, bytes | None, Sequence[Header]]
_CRC_OFFSET, _ATTRIBUTES_OFFSET, _RECORDS_OFFSET = 17, 21, 61  # in a v2 batch header


def record_batch(records: Sequence[RawRecord], *, gzip: bool = False) -> bytearray:
    """A v2 record batch of (key, value, headers), as aiokafka's builder writes it, except
    that a header key given as bytes is written as those bytes, UTF-8 or not (aiokafka's
    producer takes str keys only; see `_with_raw_keys`). `gzip` compresses it."""
    builder = DefaultRecordBatchBuilder(2, 0, 0, -1, -1, -1, 16 * 2**20)
    swaps: dict[str, bytes] = {}
    for offset, (key, value, headers) in enumerate(records):
        builder.append(offset, None, key=key, value=value, headers=_placeholders(headers, swaps))
    data = bytearray(builder.build())
    _with_raw_keys(data, swaps)
    if gzip:
        data[_RECORDS_OFFSET:] = gzip_encode(bytes(data[_RECORDS_OFFSET:]))
        struct.pack_into(">i", data, 8, len(data) - 12)  # the batch length
        (attributes,) = struct.unpack_from(">h", data, _ATTRIBUTES_OFFSET)
        struct.pack_into(">h", data, _ATTRIBUTES_OFFSET, attributes | 0x01)
        _crc_again(data)
    return data


def _placeholders(headers: Sequence[Header], swaps: dict[str, bytes]) -> list[tuple[str, Any]]:
    """The headers with each bytes key replaced by a random text of the same length."""
    written: list[tuple[str, Any]] = []
    for name, value in headers:
        if isinstance(name, bytes):
            placeholder = secrets.token_hex(len(name))[: len(name)]
            swaps[placeholder] = name
            name = placeholder  # noqa: PLW2901 - written in its place
        written.append((name, value))
    return written


def _with_raw_keys(data: bytearray, swaps: dict[str, bytes]) -> None:
    """Put the raw keys in place of their placeholders in a built (uncompressed) batch and
    compute its CRC again."""
    for placeholder, raw in swaps.items():
        at = data.find(placeholder.encode())
        if at < 0 or data.find(placeholder.encode(), at + 1) >= 0:
            raise ValueError("use a header key of at least 8 bytes: its placeholder is not unique")
        data[at : at + len(raw)] = raw
    _crc_again(data)


def _crc_again(data: bytearray) -> None:
    struct.pack_into(">I", data, _CRC_OFFSET, calc_crc32c(bytes(data[_ATTRIBUTES_OFFSET:])))


async def send_raw_records(
    producer: AIOKafkaProducer, topic: str, partition: int, records: Sequence[RawRecord]
) -> int:
    """Publish records as one batch, header keys given as bytes written as those bytes (a
    plain producer: an idempotent one writes its sequence into each batch after this);
    returns the offset of the first record."""
    batch = producer.create_batch()
    swaps: dict[str, bytes] = {}
    for key, value, headers in records:
        batch.append(timestamp=None, key=key, value=value, headers=_placeholders(headers, swaps))
    # aiokafka sends the buffer `_build()` returns, built once: the keys are swapped in it.
    _with_raw_keys(batch._build(), swaps)
    delivered = await producer.send_batch(batch, topic, partition=partition)
    metadata = await delivered
    return int(metadata.offset)
