"""What every scenario shares: the run (stack, emulator, files) and one scenario's world.

A `Run` holds the shared stack's addresses, bench's database template and topic factory, and
one emulator process. A `Scenario` gets fresh topics and a fresh database (a clone of the
template, or one on a dedicated server), a fleet of service processes, a publisher, and the
waits the scenarios use: until every published record is recorded (or the pipeline stalls),
and how long a probe published after a fault takes to be recorded (the recovery time).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from bench.emulator_proc import API_KEY, EmulatorProcess
from bench.infra import Databases, PhaseTopics, Topics, asyncpg_dsn
from reliability import ledger as ledger_mod
from reliability.fleet import EmulatorAdmin, Fleet
from reliability.publish import Published, Publisher, event, user_ids
from service.crypto.keyring import new_kek_text

# One key-encryption key per run: the service (and any restart of it) reads what it stored.
ENCRYPTION_KEYS = new_kek_text("reliability")

RECOVERY_TARGET_S = 10.0


@dataclass
class Run:
    """The whole suite's shared parts."""

    bootstrap: str
    server_url: str
    databases: Databases
    topics: Topics
    emulator: EmulatorProcess
    admin: EmulatorAdmin
    work_dir: Path
    run_id: str
    quick: bool


@dataclass
class Scenario:
    """One scenario's topics, database, service fleet and publisher."""

    name: str
    run: Run
    url: str
    topics: PhaseTopics
    fleet: Fleet
    publisher: Publisher
    bootstrap: str
    partitions: int
    poison_ids: frozenset[str] = frozenset()
    recovery_s: float | None = None
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _probes: int = 0

    @property
    def dsn(self) -> str:
        """The scenario database as a plain asyncpg DSN."""
        return asyncpg_dsn(self.url)

    async def recorded(self) -> dict[tuple[int, int], str]:
        """(partition, offset) -> inbox outcome, for the input topic."""
        connection = await asyncpg.connect(self.dsn, timeout=10)
        try:
            rows = await connection.fetch(
                'SELECT partition, "offset", outcome FROM inbox WHERE topic = $1',
                self.topics.input,
            )
        finally:
            await connection.close()
        return {(r["partition"], r["offset"]): r["outcome"] for r in rows}

    async def unsent(self) -> int:
        """Outbox rows not yet published (poison rows excluded)."""
        connection = await asyncpg.connect(self.dsn, timeout=10)
        try:
            value = await connection.fetchval(
                "SELECT count(*) FROM outbox WHERE sent_at IS NULL"
                " AND NOT (event_id::text = ANY($1::text[]))",
                list(self.poison_ids),
            )
        finally:
            await connection.close()
        return int(value)

    async def settle(self, expected: Iterable[Published], *, stall_s: float) -> bool:
        """Wait until every record is in the inbox and the outbox is empty; False on a stall."""
        wanted = {(p.partition, p.offset) for p in expected}
        last, changed = (-1, -1), time.monotonic()
        while True:
            self.fleet.check_alive()
            try:
                seen = await self.recorded()
                unsent = await self.unsent()
            except (OSError, asyncpg.PostgresError, TimeoutError):
                await asyncio.sleep(0.5)
                continue
            done = len(wanted & seen.keys())
            if done == len(wanted) and unsent == 0:
                return True
            if (done, unsent) != last:
                last, changed = (done, unsent), time.monotonic()
            elif time.monotonic() - changed > stall_s:
                self.problems.append(
                    f"stalled: {len(wanted) - done} of {len(wanted)} records never recorded,"
                    f" {unsent} outbox rows unsent, nothing moved for {stall_s:g} s"
                )
                return False
            await asyncio.sleep(0.25)

    async def probe(self, fault_ended: float, *, timeout_s: float = 120.0) -> float | None:
        """Publish one event for a fresh user; seconds from `fault_ended` until it is recorded."""
        self._probes += 1
        user = user_ids(f"{self.run.run_id}/{self.name}/probe", self._probes)[-1]
        await self.run.admin.create_users([user])
        (published,) = await self.publisher.send([event(user, f"{self.name}-probe-{self._probes}")])
        where = (published.partition, published.offset)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if where in await self.recorded():
                    return time.monotonic() - fault_ended
            except (OSError, asyncpg.PostgresError, TimeoutError):
                pass
            await asyncio.sleep(0.1)
        self.problems.append(
            f"the probe published after the fault was not recorded in {timeout_s:g} s"
        )
        return None

    def measured_recovery(self, seconds: float | None) -> None:
        """Keep the worst recovery time of the scenario."""
        if seconds is not None:
            self.recovery_s = max(self.recovery_s or 0.0, seconds)
            if seconds > RECOVERY_TARGET_S:
                self.problems.append(f"recovery took {seconds:.1f} s (> {RECOVERY_TARGET_S:g} s)")

    async def result(self, *, replays_expected: str = "processed") -> dict[str, Any]:
        """The ledger of the scenario and every target it missed."""
        self.fleet.check_alive()
        ledger = await ledger_mod.build(
            dsn=self.dsn,
            bootstrap=self.bootstrap,
            input_topic=self.topics.input,
            input_partitions=self.partitions,
            output_topic=self.topics.output,
            dlq_topic=self.topics.dlq,
            published=self.publisher.published,
            poison_ids=self.poison_ids,
            replays_expected=replays_expected,
        )
        problems = self.problems + ledger.problems
        problems += [f"unexpected exit: {e}" for e in self.fleet.unexpected_exits]
        return {
            "name": self.name,
            "messages_in": ledger.messages_in,
            "stored": ledger.stored,
            "dead_lettered": ledger.dead_lettered,
            "lost": ledger.lost,
            "duplicate_snapshots": ledger.duplicate_snapshots,
            "duplicate_deliveries": ledger.duplicate_deliveries,
            "recovery_s": round(self.recovery_s, 1) if self.recovery_s is not None else None,
            "derived_events": ledger.derived_events,
            "conflicting_derived_ids": ledger.conflicting_ids,
            "users_out_of_order": ledger.out_of_order_users,
            "valid_dead_lettered": ledger.wrongly_dead_lettered,
            "dead_letter_classes": dict(ledger.dead_letter_reasons),
            "notes": self.notes,
            "problems": problems,
            "passed": not problems,
        }


def service_env(
    run: Run, name: str, topics: PhaseTopics, url: str, bootstrap: str
) -> dict[str, str]:
    """The settings every instance of a scenario runs with."""
    return {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
        "KAFKA_INPUT_TOPIC": topics.input,
        "KAFKA_OUTPUT_TOPIC": topics.output,
        "KAFKA_DLQ_TOPIC": topics.dlq,
        "KAFKA_GROUP_ID": f"rel-{run.run_id}-{name}",
        "KAFKA_CREATE_TOPICS": "false",
        # A crashed member's partitions move after this long: 6 s (the broker's minimum).
        "KAFKA_SESSION_TIMEOUT_MS": "6000",
        "DATABASE_URL": url,
        "ALICE_API_URL": run.emulator.base_url,
        "ALLOW_INSECURE_ALICE_URL": "true",  # the emulator speaks plain HTTP on loopback
        "ALICE_API_KEY": API_KEY,
        "ENCRYPTION_KEYS": ENCRYPTION_KEYS,  # encrypted, as in production
        "HTTP_HOST": "127.0.0.1",
        "LOG_LEVEL": "INFO",
        "SHUTDOWN_TIMEOUT_S": "10",
    }


@asynccontextmanager
async def scenario(
    run: Run,
    name: str,
    *,
    partitions: int = 3,
    bootstrap: str | None = None,
    url: str | None = None,
    settings: dict[str, str] | None = None,
) -> AsyncIterator[Scenario]:
    """Fresh topics, a database, a fleet (not started) and a publisher; all stopped after."""
    bootstrap = bootstrap or run.bootstrap
    topic_factory = (
        run.topics if bootstrap == run.bootstrap else Topics(bootstrap=bootstrap, run_id=run.run_id)
    )
    topics = await topic_factory.create(name, partitions=partitions)
    url = url or await run.databases.clone(name.replace("-", "_"))
    log_dir = run.work_dir / name
    log_dir.mkdir(parents=True, exist_ok=True)
    env = service_env(run, name, topics, url, bootstrap) | (settings or {})
    fleet = Fleet(env, log_dir)
    try:
        async with Publisher(bootstrap, topics.input) as publisher:
            yield Scenario(name, run, url, topics, fleet, publisher, bootstrap, partitions)
    finally:
        await fleet.close()
        await run.admin.clear_faults()
