"""Helpers shared by the scenarios: sizes, users, and a fault window over a paced publication."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from reliability.harness import Run, Scenario
from reliability.publish import Record, events, user_ids

Action = Callable[[], Awaitable[None]]


def size(run: Run, full: float, quick: float) -> float:
    """The full suite's figure, or the short version's with --quick."""
    return quick if run.quick else full


def stall(run: Run, full_s: float) -> float:
    """How long a scenario waits without progress before it calls the pipeline stalled.

    The short version's faults are short too (backoffs stay under 10 s), so 25 s is enough.
    """
    return 25.0 if run.quick else full_s


async def users(sc: Scenario, count: int) -> list[str]:
    """`count` users of this scenario, created at the emulator with their reports rendered."""
    ids = user_ids(f"{sc.run.run_id}/{sc.name}", count)
    await sc.run.admin.create_users(ids)
    return ids


async def valid_events(sc: Scenario, count: int, *, per_user: float = 2.5) -> list[Record]:
    """`count` valid events over count/per_user users."""
    ids = await users(sc, max(1, round(count / per_user)))
    return events(f"{sc.run.run_id}-{sc.name}", ids, count)


async def outage(
    sc: Scenario,
    records: list[Record],
    *,
    cut: Action,
    restore: Action,
    outage_s: float,
    publish_during: bool = True,
    recovery_from_s: float = 0.0,
) -> None:
    """A third of the records before the fault, a third during it (paced), the rest after.

    The fault lasts `outage_s`; the recovery time is measured with a probe published when it
    ended (plus `recovery_from_s`, for a fault whose effect legitimately outlasts it).
    """
    third = len(records) // 3
    before, during, after = records[:third], records[third : 2 * third], records[2 * third :]
    await sc.publisher.send(before)
    await cut()
    started = time.monotonic()
    if publish_during:
        await sc.publisher.paced(during, rate=max(1.0, len(during) / max(outage_s * 0.8, 1)))
    await asyncio.sleep(max(0.0, outage_s - (time.monotonic() - started)))
    await restore()
    ended = time.monotonic() + recovery_from_s
    if not publish_during:
        await sc.publisher.send(during)
    await asyncio.sleep(recovery_from_s)
    sc.measured_recovery(await sc.probe(ended))
    await sc.publisher.send(after)
    sc.notes.append(f"fault held {outage_s:g} s")
