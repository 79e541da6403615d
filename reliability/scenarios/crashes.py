"""Process faults: SIGKILL at random moments, SIGTERM under load, a fleet that loses and gains
members while PostgreSQL is slow."""

from __future__ import annotations

import asyncio
import random
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from reliability.harness import Run, Scenario, scenario
from reliability.scenarios.common import size, stall, valid_events
from reliability.servers import TcpProxy

TERM_BOUND_S = 10.0 + 5.0  # SHUTDOWN_TIMEOUT_S of the scenarios, plus process exit slack


async def _wait_recorded(sc: Scenario, count: int, *, timeout_s: float = 300.0) -> None:
    deadline = time.monotonic() + timeout_s
    while len(await sc.recorded()) < count:
        sc.fleet.check_alive()
        if time.monotonic() > deadline:
            raise RuntimeError(f"{sc.name}: fewer than {count} records recorded in {timeout_s:g} s")
        await asyncio.sleep(0.05)


async def sigkill(run: Run) -> dict[str, Any]:
    """SIGKILL the service 5 times at random moments while it drains 5,000 events."""
    count, kills = int(size(run, 5000, 300)), int(size(run, 5, 2))
    async with scenario(run, "sigkill") as sc:
        await run.admin.faults(latency_ms=20)
        records = await valid_events(sc, count)
        published = await sc.publisher.send(records)
        rng = random.Random(f"{run.run_id}:sigkill")
        moments = sorted(rng.uniform(0.05, 0.9) * count for _ in range(kills))
        instance = await sc.fleet.start()
        for moment in moments:
            await _wait_recorded(sc, int(moment))
            sc.fleet.kill(instance)
            instance = await sc.fleet.start()
        sc.notes.append(f"killed at {', '.join(str(int(m)) for m in moments)} records recorded")
        await sc.settle(published, stall_s=stall(run, 60))
        return await sc.result()


async def sigterm(run: Run) -> dict[str, Any]:
    """SIGTERM under load: the service exits within its bound and a successor loses nothing."""
    count = int(size(run, 3000, 200))
    async with scenario(run, "sigterm") as sc:
        await run.admin.faults(latency_ms=20)
        records = await valid_events(sc, count)
        published = await sc.publisher.send(records)
        first = await sc.fleet.start()
        await _wait_recorded(sc, count // 3)
        seconds = await sc.fleet.terminate(first, timeout_s=60)
        code = first.process.returncode
        sc.notes.append(f"exited {seconds:.1f} s after SIGTERM with code {code}")
        if seconds > TERM_BOUND_S:
            sc.problems.append(f"SIGTERM exit took {seconds:.1f} s (bound {TERM_BOUND_S:g} s)")
        if code not in (0, -15):
            sc.problems.append(f"exit code {code} after SIGTERM")
        await sc.fleet.start()
        await sc.settle(published, stall_s=stall(run, 60))
        return await sc.result()


def _via(url: str, port: int) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{port}"
    return urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))


async def fleet(run: Run) -> dict[str, Any]:
    """Three instances on six partitions, PostgreSQL slowed; one SIGKILLed, one added."""
    count = int(size(run, 3000, 600))
    url = await run.databases.clone("fleet")
    server = urlsplit(url)
    proxy = TcpProxy(server.hostname or "127.0.0.1", server.port or 5432)
    await proxy.start()
    proxy.delay_s = 0.005  # every reply from PostgreSQL 5 ms late
    try:
        async with scenario(run, "fleet", partitions=6, url=_via(url, proxy.port)) as sc:
            sc.url = url  # the ledger reads the database directly
            await run.admin.faults(latency_ms=20)
            records = await valid_events(sc, count)
            members = [await sc.fleet.start() for _ in range(3)]
            published = await sc.publisher.send(records)
            await _wait_recorded(sc, count // 4)
            sc.fleet.kill(members[0])
            await _wait_recorded(sc, count // 2)
            await sc.fleet.start()
            sc.notes.append(
                "PostgreSQL replies delayed 5 ms; instance 1 killed at 25 %, 4 added at 50 %"
            )
            await sc.settle(published, stall_s=stall(run, 60))
            return await sc.result()
    finally:
        await proxy.cut()
