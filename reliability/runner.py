"""Setting up and tearing down a run (emulator, template database, topics) and running
scenarios one after the other, each bounded in time; a failing scenario is a failed row."""

from __future__ import annotations

import asyncio
import os
import secrets
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bench.emulator_proc import EmulatorProcess
from bench.infra import Databases, Topics
from reliability.fleet import EmulatorAdmin
from reliability.harness import Run
from reliability.scenarios import SCENARIOS

NO_STACK = "KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL must name the stack (use `make reliability`)"
BOUND_S = {"quick": 240.0, "full": 900.0}


@asynccontextmanager
async def open_run(*, quick: bool, work_dir: Path | None = None) -> AsyncIterator[Run]:
    """The emulator, a migrated template database and a topic factory; all removed after."""
    bootstrap, server_url = (
        os.environ.get("KAFKA_BOOTSTRAP_SERVERS"),
        os.environ.get("DATABASE_URL"),
    )
    if not bootstrap or not server_url:
        raise RuntimeError(NO_STACK)
    run_id = secrets.token_hex(3)
    work_dir = work_dir or Path(tempfile.mkdtemp(prefix=f"reliability-{run_id}-"))
    emulator = EmulatorProcess(work_dir=work_dir, user_ids=["seed"], max_lifetime_s=3600)
    databases = Databases(server_url=server_url, run_id=f"rel_{run_id}")
    topics = Topics(bootstrap=bootstrap, run_id=f"rel-{run_id}")
    admin: EmulatorAdmin | None = None
    try:
        await emulator.start(latency_ms=0)
        admin = EmulatorAdmin(emulator.base_url)
        await databases.create_template()
        yield Run(
            bootstrap, server_url, databases, topics, emulator, admin, work_dir, run_id, quick
        )
    finally:
        if admin is not None:
            await admin.aclose()
        await emulator.stop()
        await topics.delete_all()
        await databases.drop_all()


async def run_one(run: Run, name: str) -> dict[str, Any]:
    """One scenario, bounded in time; an exception or a timeout is a failed row."""
    bound = BOUND_S["quick" if run.quick else "full"]
    started = time.monotonic()
    print(f"reliability: {name} ...", file=sys.stderr, flush=True)
    try:
        async with asyncio.timeout(bound):
            result = await SCENARIOS[name](run)
    except Exception as exc:  # any failure of a scenario is its result
        result = {"name": name, "problems": [f"scenario failed: {exc!r}"], "passed": False}
    result["duration_s"] = round(time.monotonic() - started, 1)
    verdict = "ok" if result["passed"] else "FAILED: " + "; ".join(result["problems"])
    print(
        f"reliability: {name}: {verdict} (logs in {run.work_dir / name})",
        file=sys.stderr,
        flush=True,
    )
    return result
