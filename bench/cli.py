"""The command line of `python -m bench`: the plan of phases, set-up and clean-up, the outputs.

    python -m bench [--events N] [--users K] [--partitions P] [--latency-ms L] [--quick]
    python -m bench --profile [py-spy|pyinstrument]

Phases, in order: naive (one at a time, fewer events), main (concurrent, API latency L),
ceiling (concurrent, latency 0), the MAX_IN_FLIGHT sweep (fewer events), paced (latency).
Needs KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL (`make bench` starts the stack and sets them).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import time
import uuid
from typing import Any

from bench.emulator_proc import EmulatorProcess
from bench.infra import Databases, Topics
from bench.phase import Context, PhaseFailed, PhaseSpec, run_phase
from bench.profiling import Profiler
from bench.report import (
    BENCH_DIR,
    draw_chart,
    final_line,
    headline,
    machine_info,
    write_results,
)
from bench.verify import VerificationError
from bench.workload import users_for
from service.settings import Settings

DEFAULT_IN_FLIGHT = int(Settings.model_fields["max_in_flight"].default)
NAIVE_SETTINGS = {"MAX_IN_FLIGHT": "1", "DB_BATCH_SIZE": "1", "DB_WRITERS": "1"}
PACED_SHARE = 0.5


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The options."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5000, help="events of the main phases")
    parser.add_argument("--users", type=int, default=2000, help="users of the main phases")
    parser.add_argument("--partitions", type=int, default=1, help="input topic partitions")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="API latency per call")
    parser.add_argument("--naive-events", type=int, default=300)
    parser.add_argument("--sweep", default="1,32,64,128,256,512", help="MAX_IN_FLIGHT values")
    parser.add_argument("--sweep-events", type=int, default=1000)
    parser.add_argument("--paced-s", type=float, default=20.0, help="length of the paced phase")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a small smoke run of the harness")
    parser.add_argument(
        "--profile",
        nargs="?",
        const="py-spy",
        choices=["py-spy", "pyinstrument"],
        help="run the main phase only, with the service under a profiler",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.users = min(args.events, 600), min(args.users, 240)
        args.naive_events, args.sweep_events = 40, 300
        args.sweep, args.paced_s = "1,16,64", 4.0
    return args


def _require_env() -> tuple[str, str]:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    database_url = os.environ.get("DATABASE_URL")
    if not bootstrap or not database_url:
        raise SystemExit(
            "bench: KAFKA_BOOTSTRAP_SERVERS and DATABASE_URL must be set (use `make bench`)"
        )
    return bootstrap, database_url


async def _run(args: argparse.Namespace) -> int:
    bootstrap, database_url = _require_env()
    run_id = uuid.uuid4().hex[:8]
    work_dir = BENCH_DIR / "work" / run_id
    work_dir.mkdir(parents=True, exist_ok=True)
    user_ids = [str(uuid.UUID(int=(args.seed << 64) + i + 1)) for i in range(args.users)]
    emulator = EmulatorProcess(work_dir=work_dir, user_ids=user_ids, max_lifetime_s=1800)
    ctx = Context(
        bootstrap=bootstrap,
        databases=Databases(server_url=database_url, run_id=run_id),
        topics=Topics(bootstrap=bootstrap, run_id=run_id),
        emulator=emulator,
        work_dir=work_dir,
        partitions=args.partitions,
        seed=args.seed,
        run_id=run_id,
    )
    started = time.monotonic()
    machine = machine_info()
    try:
        await emulator.start(latency_ms=args.latency_ms)
        await ctx.databases.create_template()
        if args.profile:
            return await _profile(ctx, args, user_ids)
        results = await _all_phases(ctx, args, user_ids)
    except (PhaseFailed, VerificationError) as failure:
        print(f"bench: FAILED: {type(failure).__name__}: {failure}", file=sys.stderr)
        print(f"bench: logs in {work_dir}", file=sys.stderr)
        return 1
    finally:
        await _clean_up(ctx)
    results["machine"] = machine
    results["run_seconds"] = round(time.monotonic() - started, 1)
    results["headline"] = head = headline(results)
    write_results(results)
    draw_chart(results)
    print(final_line(head))
    return 0


async def _clean_up(ctx: Context) -> None:
    await ctx.emulator.stop()
    for step in (ctx.topics.delete_all, ctx.databases.drop_all):
        try:
            await step()
        except Exception as exc:
            print(f"bench: clean-up step failed: {exc!r}", file=sys.stderr)


def _spec(
    args: argparse.Namespace, user_ids: list[str], name: str, events: int, **kwargs: Any
) -> PhaseSpec:
    users = users_for(events, user_ids=user_ids, all_events=args.events, all_users=args.users)
    return PhaseSpec(name=name, events=events, users=users, **kwargs)


async def _all_phases(
    ctx: Context, args: argparse.Namespace, user_ids: list[str]
) -> dict[str, Any]:
    latency = args.latency_ms
    naive = await run_phase(
        ctx,
        _spec(
            args, user_ids, "naive", args.naive_events, latency_ms=latency, settings=NAIVE_SETTINGS
        ),
    )
    main = await run_phase(ctx, _spec(args, user_ids, "main", args.events, latency_ms=latency))
    main["max_in_flight"] = DEFAULT_IN_FLIGHT
    ceiling = await run_phase(ctx, _spec(args, user_ids, "ceiling", args.events, latency_ms=0))
    sweep = []
    for limit in (int(x) for x in args.sweep.split(",")):
        if limit == 1:
            point = {**naive, "note": "the naive phase"}
        else:
            spec = _spec(
                args,
                user_ids,
                f"sweep{limit}",
                args.sweep_events,
                latency_ms=latency,
                settings={"MAX_IN_FLIGHT": str(limit)},
            )
            point = await run_phase(ctx, spec)
        sweep.append({"max_in_flight": limit, **point})
    rate = PACED_SHARE * main["events_per_s"]
    paced_events = max(50, int(rate * args.paced_s))
    paced = await run_phase(
        ctx, _spec(args, user_ids, "paced", paced_events, latency_ms=latency, paced_rate=rate)
    )
    return {
        "settings": {
            "events": args.events,
            "users": args.users,
            "partitions": args.partitions,
            "latency_ms": latency,
            "naive_events": args.naive_events,
            "sweep_events": args.sweep_events,
            "paced_share_of_main": PACED_SHARE,
            "quick": args.quick,
        },
        "main": main,
        "naive": naive,
        "ceiling": ceiling,
        "sweep": sweep,
        "paced": paced,
    }


async def _profile(ctx: Context, args: argparse.Namespace, user_ids: list[str]) -> int:
    profiler = Profiler(args.profile, work_dir=ctx.work_dir)
    spec = _spec(
        args, user_ids, "profile", args.events, latency_ms=args.latency_ms, profiler=profiler
    )
    result = await run_phase(ctx, spec)
    print(profiler.summarise())
    print(
        f"bench: profiled main phase: {result['events_per_s']} events/s, "
        f"{result['service_cpu_ms_per_event']} ms CPU/event (under {args.profile}); "
        f"profile in {profiler.text}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; the exit code says whether every phase verified."""
    args = parse_args(argv)
    loop = asyncio.new_event_loop()
    task = loop.create_task(_run(args))
    # SIGTERM and Ctrl-C cancel the run: clean-up stops the children by PID and drops data.
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    try:
        return loop.run_until_complete(task)
    except asyncio.CancelledError:
        print("bench: interrupted", file=sys.stderr)
        return 130
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
