"""What a token bucket shared by all pods in PostgreSQL would cost per Alice request.

    DATABASE_URL=postgresql://... python -m bench.shared_bucket_cost

One row, one `UPDATE ... RETURNING` per grant (the cheapest shared bucket there is), in a
scratch database created and dropped here; 3,000 grants over 1, 8 and 32 connections. The
figures decided that the budget is split per pod instead (README, "Alice's rate budget").
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid

import asyncpg

GRANTS = 3000
GRANT = """UPDATE alice_budget SET
  tokens = LEAST(burst, tokens + EXTRACT(EPOCH FROM clock_timestamp() - updated) * rate) - 1,
  updated = clock_timestamp()
WHERE name = 'alice'
  AND LEAST(burst, tokens + EXTRACT(EPOCH FROM clock_timestamp() - updated) * rate) >= 1
RETURNING tokens"""


async def _measure(dsn: str, connections: int) -> str:
    pool = await asyncpg.create_pool(dsn, min_size=connections, max_size=connections)

    async def worker(grants: int) -> None:
        async with pool.acquire() as connection:
            for _ in range(grants):
                await connection.fetchval(GRANT)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker(GRANTS // connections) for _ in range(connections)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    await pool.close()
    return (
        f"{connections:3d} connections: {GRANTS / wall:6.0f} grants/s, "
        f"{wall / GRANTS * connections * 1e3:6.2f} ms per grant, "
        f"client CPU {cpu / GRANTS * 1e6:4.0f} µs per grant"
    )


async def main() -> None:
    """Create a scratch database, measure, drop it."""
    url = os.environ["DATABASE_URL"].replace("postgresql+asyncpg://", "postgresql://")
    admin = await asyncpg.connect(url)
    scratch = f"bucket_cost_{uuid.uuid4().hex[:8]}"
    await admin.execute(f"CREATE DATABASE {scratch}")
    try:
        dsn = url.rsplit("/", 1)[0] + "/" + scratch
        setup = await asyncpg.connect(dsn)
        await setup.execute(
            "CREATE TABLE alice_budget (name text PRIMARY KEY, tokens float8, burst float8,"
            " rate float8, updated timestamptz)"
        )
        await setup.execute("INSERT INTO alice_budget VALUES ('alice', 1e9, 1e9, 1e9, now())")
        await setup.close()
        for connections in (1, 8, 32):
            print(await _measure(dsn, connections))
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {scratch} WITH (FORCE)")
        await admin.close()


if __name__ == "__main__":
    asyncio.run(main())
