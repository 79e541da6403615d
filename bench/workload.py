"""The input events of a phase and their publication (all at once, or paced).

Events are onboarding-completed JSON objects (`user_id`, a unique `event_id`, `occurred_at`)
keyed by user id, each for a user drawn at random from the phase's users with a seeded RNG.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaProducer


@dataclass(frozen=True, slots=True)
class InputEvent:
    """One event to publish."""

    event_id: str
    user_id: str

    def value(self) -> bytes:
        """The record value."""
        occurred_at = datetime.now(UTC).isoformat()
        body = {"user_id": self.user_id, "event_id": self.event_id, "occurred_at": occurred_at}
        return json.dumps(body).encode()


def events_for(phase: str, *, count: int, user_ids: list[str], seed: int) -> list[InputEvent]:
    """`count` events over `user_ids` (random users, reproducible for a seed and phase)."""
    rng = random.Random(f"{seed}:{phase}")
    return [InputEvent(f"{phase}-{i}", rng.choice(user_ids)) for i in range(count)]


def users_for(count: int, *, user_ids: list[str], all_events: int, all_users: int) -> list[str]:
    """Users for a phase of `count` events: the main run's events-per-user ratio, at least 1."""
    wanted = max(1, round(all_users * count / all_events))
    return user_ids[: min(wanted, len(user_ids))]


def _producer(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, enable_idempotence=True, linger_ms=5, acks="all"
    )


async def publish_all(bootstrap: str, topic: str, events: list[InputEvent]) -> None:
    """Publish every event and wait until the broker has all of them."""
    producer = _producer(bootstrap)
    await producer.start()
    try:
        acks = [await producer.send(topic, e.value(), key=e.user_id.encode()) for e in events]
        await asyncio.gather(*acks)
    finally:
        await producer.stop()


async def publish_paced(
    bootstrap: str, topic: str, events: list[InputEvent], *, rate: float
) -> dict[str, float]:
    """Publish at `rate` events/s (in 10 ms ticks); each event's publication time (epoch s)."""
    published: dict[str, float] = {}
    producer = _producer(bootstrap)
    await producer.start()
    try:
        acks = []
        started = time.monotonic()
        next_index = 0
        while next_index < len(events):
            due = min(len(events), int((time.monotonic() - started) * rate) + 1)
            for event in events[next_index:due]:
                published[event.event_id] = time.time()
                acks.append(await producer.send(topic, event.value(), key=event.user_id.encode()))
            next_index = max(next_index, due)
            await asyncio.sleep(0.01)
        await asyncio.gather(*acks)
    finally:
        await producer.stop()
    return published
