"""One phase: fresh topics and database, publish, run the service, measure, verify, stop.

A drain phase publishes everything first and measures throughput and CPU from the first
recorded message to the last published derived event. A paced phase publishes one probe event,
waits until the service has recorded it (so the group join is behind it), then publishes the
rest at a fixed rate and measures each user's first event from publication to its
`state_changed` record on the output topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from bench import procs
from bench.emulator_proc import API_KEY, EmulatorProcess
from bench.infra import Databases, PhaseTopics, Topics, asyncpg_dsn
from bench.profiling import Profiler
from bench.stats import MetricsText, histogram_quantile, percentile, scrape
from bench.verify import STATE_CHANGED, state_changes, verify_phase
from bench.workload import InputEvent, events_for, publish_all, publish_paced
from service.crypto.keyring import new_kek_text

# One key-encryption key per run: the service (and any restart of it) reads what it stored.
ENCRYPTION_KEYS = new_kek_text("bench")

POLL_S = 0.1
FIRST_PROGRESS_TIMEOUT_S = 120.0


class PhaseFailed(Exception):
    """A phase could not be measured (service died, stalled, or never started)."""


@dataclass(frozen=True)
class PhaseSpec:
    """What one phase runs: events, users, API latency and the service settings it changes."""

    name: str
    events: int
    users: list[str]
    latency_ms: float
    settings: dict[str, str] = field(default_factory=dict)
    paced_rate: float | None = None
    profiler: Profiler | None = None


@dataclass
class Context:
    """What every phase shares: the stack, the emulator, where to put files."""

    bootstrap: str
    databases: Databases
    topics: Topics
    emulator: EmulatorProcess
    work_dir: Path
    partitions: int
    seed: int
    run_id: str


def _service_env(
    ctx: Context, spec: PhaseSpec, topics: PhaseTopics, url: str, port: int
) -> dict[str, str]:
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": ctx.bootstrap,
        "KAFKA_INPUT_TOPIC": topics.input,
        "KAFKA_OUTPUT_TOPIC": topics.output,
        "KAFKA_DLQ_TOPIC": topics.dlq,
        "KAFKA_GROUP_ID": f"bench-{ctx.run_id}-{spec.name}",
        "KAFKA_CREATE_TOPICS": "false",
        "DATABASE_URL": url,
        "ALICE_API_URL": ctx.emulator.base_url,
        "ALLOW_INSECURE_ALICE_URL": "true",  # the emulator serves http://127.0.0.1
        "ALICE_API_KEY": API_KEY,
        "ENCRYPTION_KEYS": ENCRYPTION_KEYS,  # encrypted, as in production
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(port),
        "LOG_LEVEL": "WARNING",
        **spec.settings,
    }


async def _progress(connection: asyncpg.Connection) -> tuple[int, int]:
    row = await connection.fetchrow(
        "SELECT (SELECT count(*) FROM inbox), (SELECT count(*) FROM outbox WHERE sent_at IS NULL)"
    )
    assert row is not None  # noqa: S101 - a SELECT of two scalars always returns a row
    return int(row[0]), int(row[1])


@dataclass
class Window:
    """What was measured between the first recorded message and the end of the phase."""

    started: float
    first: float
    last: float
    done_at_first: int
    cpu_s: float
    emulator_cpu_s: float
    peak_rss: int
    metrics: MetricsText
    published: dict[str, float]
    exit_code: int | None
    shutdown_s: float


async def run_phase(ctx: Context, spec: PhaseSpec) -> dict[str, Any]:
    """Run one phase end to end and return its figures (raises on wrong output)."""
    print(
        f"bench: phase {spec.name}: {spec.events} events, {len(spec.users)} users, "
        f"API latency {spec.latency_ms:g} ms, {spec.settings or 'default settings'}",
        file=sys.stderr,
        flush=True,
    )
    url = await ctx.databases.clone(spec.name)
    topics = await ctx.topics.create(spec.name, partitions=ctx.partitions)
    await ctx.emulator.set_latency(spec.latency_ms)
    events = events_for(spec.name, count=spec.events, user_ids=spec.users, seed=ctx.seed)
    paced = spec.paced_rate is not None
    await publish_all(ctx.bootstrap, topics.input, events[:1] if paced else events)
    window = await _measure(ctx, spec, url, topics, events)
    records = await verify_phase(
        dsn=asyncpg_dsn(url), bootstrap=ctx.bootstrap, topics=topics, events=events
    )
    seconds = window.last - window.first
    in_window = len(events) - window.done_at_first
    result: dict[str, Any] = {
        "events": len(events),
        "users": len({e.user_id for e in events}),
        "api_latency_ms": spec.latency_ms,
        "settings": spec.settings,
        "startup_s": round(window.first - window.started, 2),
        "window_s": round(seconds, 3),
        "events_in_window": in_window,
        "events_per_s": round(in_window / seconds, 1),
        "service_cpu_ms_per_event": round(window.cpu_s * 1000 / in_window, 3),
        "service_cpu_utilisation": round(window.cpu_s / seconds, 2),
        "emulator_cpu_ms_per_event": round(window.emulator_cpu_s * 1000 / in_window, 3),
        "peak_rss_mb": round(window.peak_rss / 2**20, 1),
        "derived_events": len(records),
        # uvicorn re-raises SIGTERM after its graceful shutdown: -15 is a clean stop.
        "service_exit_code": window.exit_code,
        "service_shutdown_s": round(window.shutdown_s, 2),
        **_service_figures(window.metrics),
    }
    if paced:
        stages = await _stages(asyncpg_dsn(url), events)
        changed = state_changes(records)
        result |= _latency(events, window.published, changed, stages, spec.paced_rate)
    print(f"bench: phase {spec.name}: {_summary(result)}", file=sys.stderr, flush=True)
    return result


async def _measure(
    ctx: Context, spec: PhaseSpec, url: str, topics: PhaseTopics, events: list[InputEvent]
) -> Window:
    port = procs.free_port()
    argv = [sys.executable, "-m", "service", "run"]
    if spec.profiler is not None:
        argv = spec.profiler.wrap(argv)
    with (ctx.work_dir / f"service-{spec.name}.log").open("wb") as stdout:
        process = procs.start(
            argv,
            env=_service_env(ctx, spec, topics, url, port),
            stdout=stdout,
            log_path=ctx.work_dir / f"service-{spec.name}.err",
        )
    sampler = procs.Sampler(process.pid)
    sampler.start()
    emulator = procs.Sampler(ctx.emulator.process.pid if ctx.emulator.process else process.pid)
    connection = await asyncpg.connect(asyncpg_dsn(url))
    publisher: asyncio.Task[dict[str, float]] | None = None
    started = time.monotonic()
    calls_before = await ctx.emulator.api_calls()
    try:
        # The window opens when the service starts working (its first call to Alice, which
        # every message makes first), so that the work on the first messages in flight, done
        # before anything is recorded, counts too.
        done_at_first = await _wait_first(
            process, connection, started, lambda: _calls_since(ctx, calls_before)
        )
        first, cpu_first, emu_first = time.monotonic(), sampler.cpu(), emulator.cpu()
        if spec.profiler is not None:
            await spec.profiler.attach(process.pid)
        if spec.paced_rate is not None:
            publisher = asyncio.create_task(
                publish_paced(ctx.bootstrap, topics.input, events[1:], rate=spec.paced_rate)
            )
        await _wait_done(process, connection, len(events), publisher)
        last, cpu_last, emu_last = time.monotonic(), sampler.cpu(), emulator.cpu()
        if spec.profiler is not None:
            await spec.profiler.detach()
        published = await publisher if publisher is not None else {}
        metrics = await scrape(port)
    finally:
        if publisher is not None and not publisher.done():
            publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await publisher
        await connection.close()
        stopping = time.monotonic()
        signum = spec.profiler.stop_signal if spec.profiler else signal.SIGTERM
        exit_code = await procs.stop_async(process, signum=signum)
        shutdown_s = time.monotonic() - stopping
        await sampler.aclose()
        if spec.profiler is not None:
            await spec.profiler.detach()
    return Window(
        started=started,
        first=first,
        last=last,
        done_at_first=done_at_first,
        cpu_s=cpu_last - cpu_first,
        emulator_cpu_s=emu_last - emu_first,
        peak_rss=sampler.peak_rss,
        metrics=metrics,
        published=published,
        exit_code=exit_code,
        shutdown_s=shutdown_s,
    )


async def _stages(dsn: str, events: list[InputEvent]) -> dict[str, tuple[float, float]]:
    """Per user: when the first message's transaction began, when its outbox row was sent.

    Both are PostgreSQL `now()` (transaction start) on the same machine's clock.
    """
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT i.user_id::text AS user_id, extract(epoch FROM i.processed_at) AS recorded,"
            " extract(epoch FROM o.sent_at) AS sent"
            " FROM inbox i JOIN outbox o ON o.user_id = i.user_id"
            " WHERE i.outcome = 'stored' AND o.event_type = $1",
            STATE_CHANGED,
        )
    finally:
        await connection.close()
    return {r["user_id"]: (float(r["recorded"]), float(r["sent"])) for r in rows}


async def _calls_since(ctx: Context, before: int) -> bool:
    return await ctx.emulator.api_calls() > before


async def _wait_first(
    process: Any,
    connection: asyncpg.Connection,
    started: float,
    working: Callable[[], Awaitable[bool]],
) -> int:
    while True:
        if process.poll() is not None:
            raise PhaseFailed(f"the service exited with {process.returncode} before any work")
        if await working():
            done, _ = await _progress(connection)
            return done
        if time.monotonic() - started > FIRST_PROGRESS_TIMEOUT_S:
            raise PhaseFailed("the service recorded nothing within 120 s")
        await asyncio.sleep(POLL_S)


async def _wait_done(
    process: Any, connection: asyncpg.Connection, expected: int, publisher: Any
) -> None:
    last_change, last_done = time.monotonic(), -1
    while True:
        if process.poll() is not None:
            raise PhaseFailed(f"the service exited with {process.returncode} mid-phase")
        if publisher is not None and publisher.done() and publisher.exception():
            raise PhaseFailed(f"publishing failed: {publisher.exception()!r}")
        done, unsent = await _progress(connection)
        if done >= expected and unsent == 0:
            return
        if done != last_done:
            last_change, last_done = time.monotonic(), done
        elif time.monotonic() - last_change > 60:
            raise PhaseFailed(f"stalled: {done} of {expected} recorded, {unsent} unpublished")
        await asyncio.sleep(POLL_S)


def _service_figures(metrics: MetricsText) -> dict[str, Any]:
    name = "ingestor_message_duration_seconds"
    p50 = histogram_quantile(metrics.buckets(name), 0.5)
    p99 = histogram_quantile(metrics.buckets(name), 0.99)
    batch = metrics.mean("ingestor_db_batch_messages")
    transaction = metrics.mean("ingestor_db_transaction_duration_seconds")
    return {
        "processing_p50_ms_histogram": round(p50 * 1000, 1) if p50 is not None else None,
        "processing_p99_ms_histogram": round(p99 * 1000, 1) if p99 is not None else None,
        "mean_db_batch_messages": round(batch, 2) if batch is not None else None,
        "mean_db_transaction_ms": round(transaction * 1000, 2) if transaction else None,
        "alice_calls": int(metrics.value("ingestor_alice_request_duration_seconds_count")),
        "transient_failures": int(metrics.value("ingestor_transient_failures_total")),
    }


def _latency(
    events: list[InputEvent],
    published: dict[str, float],
    changed_ms: dict[str, int],
    stages: dict[str, tuple[float, float]],
    rate: float | None,
) -> dict[str, Any]:
    seen: set[str] = {events[0].user_id}  # the probe's user: its latency includes the join
    total, to_record, to_relay, to_topic = [], [], [], []
    for event in events[1:]:
        if event.user_id in seen:
            continue
        seen.add(event.user_id)
        sent_at = published[event.event_id]
        total.append(changed_ms[event.user_id] - sent_at * 1000)
        recorded, relayed = stages[event.user_id]
        to_record.append((recorded - sent_at) * 1000)
        to_relay.append((relayed - recorded) * 1000)
        to_topic.append(changed_ms[event.user_id] - relayed * 1000)

    def ms(samples: list[float], q: float) -> float | None:
        value = percentile(samples, q)
        return round(value, 1) if value is not None else None

    return {
        "paced_rate_per_s": round(rate or 0, 1),
        "latency_samples": len(total),
        "latency_p50_ms": ms(total, 0.5),
        "latency_p99_ms": ms(total, 0.99),
        "latency_max_ms": ms(total, 1.0),
        "latency_stages_p50_ms": {
            "publish_to_record_transaction": ms(to_record, 0.5),
            "record_transaction_to_relay_transaction": ms(to_relay, 0.5),
            "relay_transaction_to_output_record": ms(to_topic, 0.5),
        },
    }


def _summary(result: dict[str, Any]) -> str:
    text = (
        f"{result['events_per_s']} events/s, {result['service_cpu_ms_per_event']} ms CPU/event, "
        f"peak RSS {result['peak_rss_mb']} MB, batch {result['mean_db_batch_messages']}"
    )
    if "latency_p99_ms" in result:
        text += f", p50 {result['latency_p50_ms']} ms, p99 {result['latency_p99_ms']} ms"
    return text
