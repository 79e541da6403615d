"""Reading whole topics back (every partition, up to the end offsets taken at the start)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from service.record_batches import install as install_lenient_record_batches


@dataclass(frozen=True, slots=True)
class KafkaRecord:
    """One record as the broker holds it."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]


async def read_all(
    bootstrap: str, topic: str, *, partitions: int = 1, timeout_s: float = 120.0
) -> list[KafkaRecord]:
    """Every record of `topic` from the beginning to the end offsets as of now (a header key
    that is not UTF-8 read as the service reads it: see `service.record_batches`)."""
    install_lenient_record_batches()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_partition_fetch_bytes=2 * 2**20,  # a record near the broker's 1 MB limit
    )
    await consumer.start()
    records: list[KafkaRecord] = []
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        end = await consumer.end_offsets(tps)
        await consumer.seek_to_beginning(*tps)
        for tp in tps:
            await consumer.position(tp)  # completes the reset before fetching
        remaining = {tp for tp in tps if end[tp] > 0}
        seen = dict.fromkeys(tps, 0)
        deadline = time.monotonic() + timeout_s
        while remaining and time.monotonic() < deadline:
            batches = await consumer.getmany(*remaining, timeout_ms=500, max_records=5000)
            for tp, batch in batches.items():
                records.extend(
                    KafkaRecord(r.partition, r.offset, r.key, r.value, tuple(r.headers or ()))
                    for r in batch
                    if r.offset < end[tp]
                )
                if batch:
                    seen[tp] = max(seen[tp], batch[-1].offset + 1)
            for tp in list(remaining):
                if seen[tp] >= end[tp]:
                    remaining.discard(tp)
                elif not batches.get(tp) and await consumer.position(tp) >= end[tp]:
                    # Under load aiokafka sometimes moves the position past records it never
                    # returned: read them again rather than miss them.
                    consumer.seek(tp, seen[tp])
        if remaining:
            raise RuntimeError(f"could not read {topic} to its end within {timeout_s:g} s")
    finally:
        await consumer.stop()
    return list({(r.partition, r.offset): r for r in records}.values())


async def set_topic_config(bootstrap: str, topic: str, configs: dict[str, str]) -> None:
    """Change a topic's configuration (e.g. `max.message.bytes`)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, topic, configs)])
    finally:
        await admin.close()
