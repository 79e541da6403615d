"""Per-user order under concurrency: many users processed at once on two partitions, each
user's derived state changes published in order, none twice."""

from __future__ import annotations

import uuid
from collections import defaultdict

import asyncpg

from emulator import AliceEmulator
from tests.integration.pipeline.conftest import (
    Producer,
    ReaderFactory,
    SettingsFactory,
    Topics,
    eventually,
    running,
    settled,
)

USERS = 30
STATES = ("IN_PROGRESS", "TO_REVIEW", "ACCEPTED")  # each user goes through these, in order
STATE_CHANGED = b"onboarding.user.state_changed"


async def test_each_users_state_changes_arrive_in_order_once(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    read_topic: ReaderFactory,
    topics: Topics,
    pg: asyncpg.Connection,
) -> None:
    """With 30 users x 3 state changes on 2 partitions and 16 messages in flight, each user's
    state_changed events form one unbroken, forward-only chain ending in the final state, and
    no derived event is published twice."""
    users = [str(uuid.uuid4()) for _ in range(USERS)]
    for user_id in users:
        emulator.create_user(user_id, state=STATES[0])
    output = await read_topic(topics.output)

    async with running(make_settings(max_in_flight=16)):
        for round_number, state in enumerate(STATES):
            for user_id in users:
                if round_number:
                    # Processed later, a message may see a later state: that is allowed.
                    emulator.set_user_state(user_id, state)
                await producer.send({"user_id": user_id, "event_id": f"{user_id}/{state}"})

        async def all_done() -> bool:
            done = await pg.fetchval(
                "SELECT count(*) FROM inbox WHERE topic = $1 AND outcome <> 'processing'",
                topics.input,
            )
            return bool(done == USERS * len(STATES))

        await eventually(all_done, timeout=60)
        derived = await pg.fetchval(
            "SELECT count(*) FROM outbox WHERE user_id = ANY($1::uuid[])", users
        )
        records = await settled(producer, emulator, output, derived)

    ce_ids = [r.headers["ce_id"] for r in records]
    assert len(set(ce_ids)) == len(ce_ids)
    chains: dict[str, list[tuple[str | None, str]]] = defaultdict(list)
    for record in records:
        if record.headers["ce_type"] == STATE_CHANGED:
            data = record.json()
            assert record.key == data["user_id"].encode()
            chains[data["user_id"]].append((data["from"], data["to"]))
    assert set(chains) == set(users)
    rank = {state: index for index, state in enumerate(STATES)}
    for user_id, chain in chains.items():
        previous: str | None = None
        for before, after in chain:
            assert before == previous, f"{user_id}: broken chain {chain}"
            assert previous is None or rank[after] > rank[previous], f"{user_id}: {chain}"
            previous = after
        assert previous == STATES[-1]
    stored = await pg.fetch(
        "SELECT user_id, state FROM users WHERE user_id = ANY($1::uuid[])", users
    )
    assert {str(r["user_id"]): r["state"] for r in stored} == {
        u: emulator.describe_user(u)["state"] for u in users
    }
    outcomes = await pg.fetch(
        "SELECT outcome, count(*) AS n FROM inbox WHERE topic = $1 GROUP BY outcome", topics.input
    )
    assert {r["outcome"] for r in outcomes} <= {"stored", "unchanged"}
