"""Kafka faults: the broker (a dedicated one) stopped and started mid-run, and a derived event
the broker refuses (a poison outbox row) that must not hold up the others."""

from __future__ import annotations

import json
import uuid
from typing import Any

import asyncpg

from reliability.harness import Run, scenario
from reliability.publish import user_ids
from reliability.scenarios.common import outage, size, stall, valid_events
from reliability.servers import DedicatedKafka
from reliability.topics import set_topic_config

OUTPUT_LIMIT_BYTES = 65_536
POISON_BYTES = 200_000


async def kafka_restart(run: Run) -> dict[str, Any]:
    """A dedicated broker stopped for 20 s mid-run (controlled shutdown), then started again."""
    count, outage_s = int(size(run, 1500, 150)), size(run, 20, 5)
    broker = DedicatedKafka()
    try:
        await broker.open()
        async with scenario(run, "kafka-restart", bootstrap=broker.bootstrap) as sc:
            records = await valid_events(sc, count)
            await sc.fleet.start()
            await outage(
                sc,
                records,
                cut=broker.stop,
                restore=broker.start,
                outage_s=outage_s,
                publish_during=False,
            )
            await sc.settle(sc.publisher.published, stall_s=stall(run, 75))
            return await sc.result()
    finally:
        await broker.close()


async def _parked_column(connection: asyncpg.Connection) -> str | None:
    return await connection.fetchval(  # type: ignore[no-any-return]
        "SELECT column_name FROM information_schema.columns"
        " WHERE table_name = 'outbox' AND column_name LIKE '%park%' LIMIT 1"
    )


async def poison_outbox(run: Run) -> dict[str, Any]:
    """An outbox row larger than the output topic accepts: never delivered, the others flow."""
    count = int(size(run, 1000, 100))
    async with scenario(run, "poison-outbox") as sc:
        await set_topic_config(
            sc.bootstrap, sc.topics.output, {"max.message.bytes": str(OUTPUT_LIMIT_BYTES)}
        )
        poison_id = str(uuid.uuid4())
        poison_user = user_ids(f"{run.run_id}/poison", 1)[0]
        connection = await asyncpg.connect(sc.dsn)
        try:
            await connection.execute(
                "INSERT INTO outbox (event_id, topic, key, headers, payload, event_type, user_id)"
                " VALUES ($1::uuid, $2, $3, $4::jsonb, $5, $7, $6::uuid)",
                poison_id,
                sc.topics.output,
                poison_user.encode(),
                json.dumps([["ce_id", poison_id], ["ce_type", "onboarding.user.state_changed"]]),
                b"x" * POISON_BYTES,
                poison_user,
                "onboarding.user.state_changed",
            )
            sc.poison_ids = frozenset({poison_id})
            records = await valid_events(sc, count)
            await sc.fleet.start()
            published = await sc.publisher.send(records)
            await sc.settle(published, stall_s=stall(run, 60))
            column = await _parked_column(connection)
            if column is None:
                sc.notes.append("the outbox has no parking column: parking not checked")
            else:
                # The column name comes from the catalogue, not from input.
                query = f'SELECT "{column}" IS NOT NULL FROM outbox WHERE event_id = $1::uuid'  # noqa: S608
                parked = await connection.fetchval(query, poison_id)
                sc.notes.append(f"poison row {column}: {'set' if parked else 'not set'}")
                if not parked:
                    sc.problems.append(f"the poison row's {column} is not set")
        finally:
            await connection.close()
        return await sc.result()
