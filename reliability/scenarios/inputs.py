"""Input faults: a corpus of malformed records interleaved with valid ones (and one near the
broker's size limit), and two messages for one user on two partitions, handled by two
instances, with the report changing between the two fetches."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

from reliability.corpus import malformed, near_limit
from reliability.harness import Run, Scenario, scenario
from reliability.publish import event
from reliability.scenarios.common import size, stall, users


async def malformed_corpus(run: Run) -> dict[str, Any]:
    """At least 300 malformed records, each followed by a valid one, plus a ~1 MB record."""
    minimum = int(size(run, 300, 60))
    async with scenario(run, "malformed") as sc:
        ids = await users(sc, 40)
        records = malformed(ids, minimum=minimum, prefix=f"{run.run_id}-bad")
        records.append(near_limit(ids[0], f"{run.run_id}-near-limit"))
        records.append(event(ids[1], f"{run.run_id}-bad-last"))
        await sc.fleet.start()
        published = await sc.publisher.send(records)
        bad = sum(r.kind != "valid" for r in records)
        sc.notes.append(f"{bad} malformed or odd records among {len(records)}")
        await sc.settle(published, stall_s=stall(run, 45))
        return await sc.result()


async def _group_members(bootstrap: str, group: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
        groups = response.groups
        if not groups:
            return 0
        _, _, state, _, _, members, *_ = groups[0]
        return len(members) if state == "Stable" else 0
    finally:
        await admin.close()


async def _wait_members(sc: Scenario, count: int, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    group = sc.fleet.env["KAFKA_GROUP_ID"]
    while await _group_members(sc.bootstrap, group) != count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the group did not reach {count} stable members")
        await asyncio.sleep(0.5)


async def _final_state(sc: Scenario, user: str) -> tuple[str | None, str | None]:
    connection = await asyncpg.connect(sc.dsn)
    try:
        row = await connection.fetchrow(
            "SELECT u.state, s.state AS snapshot_state FROM users u"
            " JOIN report_snapshots s ON s.id = u.last_snapshot_id WHERE u.user_id = $1::uuid",
            user,
        )
    finally:
        await connection.close()
    return (row["state"], row["snapshot_state"]) if row else (None, None)


async def two_partitions(run: Run) -> dict[str, Any]:
    """One user's messages on two partitions (two instances); the report changes in between.

    The first fetch is slowed (its body sent 4 s late, holding the old report); meanwhile the
    report changes and the second message, on the other partition, fetches the new one. The
    stored state must end at the newest report and no state change may go backwards.
    """
    rounds = int(size(run, 5, 1))
    async with scenario(run, "two-partitions", partitions=2) as sc:
        await sc.fleet.start()
        await sc.fleet.start()
        await _wait_members(sc, 2)
        for index, user in enumerate(await users(sc, rounds)):
            await run.admin.fault_next(1, "slow", delay_ms=4000)
            before = await run.admin.report_calls()
            first = event(user, f"{run.run_id}-2p-{index}-a")
            await sc.publisher.send([replace(first, partition=0)])
            while await run.admin.report_calls() == before:
                await asyncio.sleep(0.05)
            await run.admin.set_state(user, "ACCEPTED")
            second = event(user, f"{run.run_id}-2p-{index}-b")
            await sc.publisher.send([replace(second, partition=1)])
            await sc.settle(sc.publisher.published, stall_s=stall(run, 45))
            state, snapshot_state = await _final_state(sc, user)
            if (state, snapshot_state) != ("ACCEPTED", "ACCEPTED"):
                sc.problems.append(
                    f"user {index}: stored state {state}/{snapshot_state} after the report moved"
                    " to ACCEPTED (an older report overwrote a newer one)"
                )
        return await sc.result()
