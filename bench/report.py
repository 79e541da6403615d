"""The run's outputs: `bench/results.json`, `bench/throughput.png` and the final line."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

BENCH_DIR = Path(__file__).resolve().parent
PACKAGES = (
    "faststream",
    "aiokafka",
    "httpx",
    "httpx-aiohttp",
    "aiohttp",
    "pydantic",
    "sqlalchemy",
    "asyncpg",
    "structlog",
)


def machine_info() -> dict[str, Any]:
    """What the figures were measured on."""
    cpu_model = ""
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - read-only, from PATH
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_model": cpu_model,
        "logical_cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": versions,
        "git_commit": commit or None,
    }


def headline(results: dict[str, Any]) -> dict[str, Any]:
    """The four figures of the final line."""
    main, naive, ceiling = results["main"], results["naive"], results["ceiling"]
    paced = results.get("paced") or {}
    p99 = paced.get("latency_p99_ms") or main.get("processing_p99_ms_histogram")
    return {
        "events_per_s": main["events_per_s"],
        "x_naive": round(main["events_per_s"] / naive["events_per_s"], 1),
        "percent_of_ceiling": round(100 * main["events_per_s"] / ceiling["events_per_s"], 1),
        "p99_ms": p99,
        "p99_source": "paced end-to-end" if paced else "service histogram (drain)",
        "service_cpu_ms_per_event": main["service_cpu_ms_per_event"],
        "peak_rss_mb": main["peak_rss_mb"],
    }


def final_line(head: dict[str, Any]) -> str:
    """`bench: <events/s> events/s, <x> x naive, <y> % of ceiling, p99 <ms> ms`."""
    p99 = head["p99_ms"]
    return (
        f"bench: {head['events_per_s']:.0f} events/s, {head['x_naive']:.1f} x naive, "
        f"{head['percent_of_ceiling']:.0f} % of ceiling, p99 {p99:.0f} ms"
    )


def write_results(results: dict[str, Any], path: Path = BENCH_DIR / "results.json") -> None:
    """Write the figures as indented JSON."""
    path.write_text(json.dumps(results, indent=2) + "\n")


def draw_chart(results: dict[str, Any], path: Path = BENCH_DIR / "throughput.png") -> None:
    """Throughput against MAX_IN_FLIGHT, with the naive baseline and the ceiling as lines."""
    import matplotlib  # noqa: PLC0415 - only the chart needs it, and before pyplot

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    sweep = results["sweep"]
    limits = [point["max_in_flight"] for point in sweep]
    rates = [point["events_per_s"] for point in sweep]
    latency = results["settings"]["latency_ms"]
    figure, axes = plt.subplots(figsize=(7, 4.2), dpi=120)
    axes.plot(limits, rates, marker="o", label=f"service, API latency {latency:g} ms")
    axes.axhline(
        results["ceiling"]["events_per_s"], linestyle=":", color="tab:red", label="ceiling (0 ms)"
    )
    axes.axhline(
        results["naive"]["events_per_s"],
        linestyle="--",
        color="tab:gray",
        label="naive (1 at a time)",
    )
    axes.scatter(
        [results["main"]["max_in_flight"]],
        [results["main"]["events_per_s"]],
        marker="*",
        s=120,
        color="tab:green",
        zorder=3,
        label="main run",
    )
    axes.set_xscale("log", base=2)
    axes.set_xticks(limits, [str(x) for x in limits])
    axes.set_xlabel("MAX_IN_FLIGHT")
    axes.set_ylabel("events/s")
    axes.set_ylim(bottom=0)
    axes.set_title("alice-report-ingestor: throughput on a lag drain (2-core machine)")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
