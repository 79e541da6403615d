"""Alice faults (the emulator's admin API): a long outage of the report endpoint while its health
check stays green, a 429 storm with a Retry-After beyond the client's budget, slow responses
past the read timeout, truncated JSON, and 404s fixed at Alice then replayed with `replay-dlq`."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import replace
from typing import Any

from reliability.harness import Run, Scenario, scenario
from reliability.publish import Published, Record, event, user_ids
from reliability.scenarios.common import outage, size, stall, valid_events
from reliability.topics import read_all

REPORT = ["user_report"]
RETRY_AFTER_S = 40  # longer than ALICE_RETRY_TIMEOUT_S (30 s), the client's budget
SLOW_TIMEOUT_S = "2"


async def alice_outage(run: Run) -> dict[str, Any]:
    """The report endpoint answers 503 for 60 s (the health check stays 200)."""
    count, outage_s = int(size(run, 1200, 150)), size(run, 60, 6)
    async with scenario(run, "alice-outage") as sc:
        records = await valid_events(sc, count)
        await sc.fleet.start()

        async def down() -> None:
            await run.admin.faults(error_rate=1.0, error_status=503, endpoints=REPORT)

        await outage(sc, records, cut=down, restore=run.admin.clear_faults, outage_s=outage_s)
        await sc.settle(sc.publisher.published, stall_s=stall(run, 75))
        return await sc.result()


async def alice_429(run: Run) -> dict[str, Any]:
    """80 % of report calls answered 429 with Retry-After 40 s (beyond the 30 s budget).

    Some calls succeed meanwhile, so a message's failures happen while Alice looks healthy
    to the others: throttling must still never dead-letter a valid message. Recovery is
    measured from when the last Retry-After told clients they may come back.
    """
    count, outage_s = int(size(run, 600, 90)), size(run, 75, 5)
    async with scenario(run, "alice-429") as sc:
        records = await valid_events(sc, count)
        await sc.fleet.start()

        async def storm() -> None:
            await run.admin.faults(
                rate_limit_rate=0.8, retry_after_s=RETRY_AFTER_S, endpoints=REPORT
            )

        await outage(
            sc,
            records,
            cut=storm,
            restore=run.admin.clear_faults,
            outage_s=outage_s,
            recovery_from_s=RETRY_AFTER_S,
        )
        await sc.settle(sc.publisher.published, stall_s=stall(run, 90))
        return await sc.result()


async def alice_slow(run: Run) -> dict[str, Any]:
    """Report bodies arrive 4 s after their headers, past a 2 s read timeout, for 20 s."""
    count, outage_s = int(size(run, 900, 120)), size(run, 20, 5)
    settings = {"ALICE_READ_TIMEOUT_S": SLOW_TIMEOUT_S}
    async with scenario(run, "alice-slow", settings=settings) as sc:
        records = await valid_events(sc, count)
        await sc.fleet.start()

        async def slow() -> None:
            await run.admin.faults(slow_rate=1.0, slow_body_ms=4000, endpoints=REPORT)

        await outage(sc, records, cut=slow, restore=run.admin.clear_faults, outage_s=outage_s)
        await sc.settle(sc.publisher.published, stall_s=stall(run, 75))
        return await sc.result()


async def alice_truncated(run: Run) -> dict[str, Any]:
    """A third of the report bodies truncated (invalid JSON) for the whole run.

    Each record must be processed or dead-lettered with a reason (a retry may fix it).
    """
    count = int(size(run, 900, 120))
    async with scenario(run, "alice-truncated") as sc:
        records = [replace(r, expect="either") for r in await valid_events(sc, count)]
        await run.admin.faults(invalid_json_rate=0.33, endpoints=REPORT)
        await sc.fleet.start()
        published = await sc.publisher.send(records)
        await sc.settle(published, stall_s=stall(run, 60))
        return await sc.result()


async def _replay(sc: Scenario) -> None:
    env = {**os.environ, **sc.fleet.env}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        "replay-dlq",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(180):
        _, err = await process.communicate()
    if process.returncode != 0:
        sc.problems.append(f"replay-dlq exited {process.returncode}: {err.decode()[-300:]}")


async def alice_404_replay(run: Run) -> dict[str, Any]:
    """Some users unknown at Alice (404: dead-lettered), then created and replayed: all stored."""
    count, missing = int(size(run, 600, 60)), int(size(run, 30, 5))
    async with scenario(run, "alice-404-replay") as sc:
        ids = user_ids(f"{run.run_id}/{sc.name}", max(missing + 1, count // 3))
        await run.admin.create_users(ids)
        gone = ids[:missing]
        for user in gone:
            await run.admin.delete_user(user)
        records = [event(ids[i % len(ids)], f"{run.run_id}-404-{i}") for i in range(count)]
        records = [
            replace(r, expect="dead_lettered" if r.user_id in gone else "processed")
            for r in records
        ]
        await sc.fleet.start()
        published = await sc.publisher.send(records)
        await sc.settle(published, stall_s=stall(run, 60))
        await run.admin.create_users(gone)
        await _replay(sc)
        replayed = [
            r
            for r in await read_all(sc.bootstrap, sc.topics.input, partitions=sc.partitions)
            if (r.partition, r.offset) not in {(p.partition, p.offset) for p in published}
        ]
        sc.notes.append(f"{len(replayed)} records replayed by replay-dlq")
        if not replayed:
            sc.problems.append("replay-dlq published nothing")
        await sc.settle(
            [Published(r.partition, r.offset, Record(r.value)) for r in replayed],
            stall_s=stall(run, 45),
        )
        return await sc.result(replays_expected="processed")
