"""PostgreSQL faults: connections cut by a proxy, a real stop and start of a dedicated server, and
a database that turns read-only (as after a failover) and back."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import asyncpg

from bench.infra import Databases, asyncpg_dsn
from reliability.harness import Run, scenario
from reliability.scenarios.common import outage, size, stall, valid_events
from reliability.scenarios.crashes import _via
from reliability.servers import DedicatedPostgres, TcpProxy


async def pg_proxy_cut(run: Run) -> dict[str, Any]:
    """Every connection to PostgreSQL cut and refused for 20 s mid-run (a TCP proxy)."""
    count, outage_s = int(size(run, 1500, 150)), size(run, 20, 5)
    url = await run.databases.clone("pg_proxy_cut")
    server = urlsplit(url)
    proxy = TcpProxy(server.hostname or "127.0.0.1", server.port or 5432)
    await proxy.start()
    try:
        async with scenario(run, "pg-proxy-cut", url=_via(url, proxy.port)) as sc:
            sc.url = url  # the ledger reads the database directly
            records = await valid_events(sc, count)
            await sc.fleet.start()
            await outage(sc, records, cut=proxy.cut, restore=proxy.start, outage_s=outage_s)
            await sc.settle(sc.publisher.published, stall_s=stall(run, 75))
            return await sc.result()
    finally:
        await proxy.cut()


async def pg_restart(run: Run) -> dict[str, Any]:
    """A dedicated PostgreSQL server stopped (fast shutdown) for 20 s mid-run, then started."""
    count, outage_s = int(size(run, 1500, 150)), size(run, 20, 5)
    server = DedicatedPostgres()
    try:
        await server.start()
        databases = Databases(server_url=server.url, run_id=f"{run.run_id}_pg")
        await databases.create_template()
        url = server.url.rsplit("/", 1)[0] + f"/{databases.template}"
        async with scenario(run, "pg-restart", url=url) as sc:
            records = await valid_events(sc, count)
            await sc.fleet.start()
            await outage(sc, records, cut=server.stop, restore=server.start, outage_s=outage_s)
            await sc.settle(sc.publisher.published, stall_s=stall(run, 75))
            return await sc.result()
    finally:
        await server.close()


async def _admin(run: Run, sql: str) -> None:
    connection = await asyncpg.connect(asyncpg_dsn(run.server_url))
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def pg_read_only(run: Run) -> dict[str, Any]:
    """The scenario's own database read-only for 30 s (sessions re-established), then writable.

    `ALTER DATABASE ... SET default_transaction_read_only` applies to new sessions, so the
    service's sessions on that database are ended (as a failover ends them) after each change.
    Only this scenario's database is altered, from a session on another database.
    """
    count, outage_s = int(size(run, 1500, 150)), size(run, 30, 6)
    async with scenario(run, "pg-read-only") as sc:
        name = sc.url.rsplit("/", 1)[1]

        async def switch(read_only: bool) -> None:
            value = "on" if read_only else "off"
            await _admin(
                run, f'ALTER DATABASE "{name}" SET default_transaction_read_only = {value}'
            )
            await _admin(
                run,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"  # noqa: S608 - our name
                f" WHERE datname = '{name}' AND pid <> pg_backend_pid()",
            )

        async def read_only() -> None:
            await switch(True)

        async def writable() -> None:
            await switch(False)

        records = await valid_events(sc, count)
        await sc.fleet.start()
        try:
            await outage(sc, records, cut=read_only, restore=writable, outage_s=outage_s)
        finally:
            await _admin(run, f'ALTER DATABASE "{name}" SET default_transaction_read_only = off')
        await sc.settle(sc.publisher.published, stall_s=stall(run, 75))
        return await sc.result()
