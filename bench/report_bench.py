"""Time `parse_report` on the example report (~33 KB) and on a ~20 KB trimmed variant.

    uv run python bench/report_bench.py [--number N] [--repeat R]

Each figure is the best of R repeats of N calls (best-of-repeats is the figure least
disturbed by other processes). `json.loads` of the same bytes, timed in the same run, is the
baseline: the ratio says what typing and validation cost on top of merely decoding.
"""

from __future__ import annotations

import argparse
import copy
import json
import timeit
from pathlib import Path
from typing import Any

from service.report import parse_report

EXAMPLE = Path(__file__).resolve().parent.parent / "tests" / "data" / "report-example.json"
TRIMMED_TARGET_BYTES = 20_000


def trimmed(body: bytes, target: int = TRIMMED_TARGET_BYTES) -> bytes:
    """The example minus its last events, then side fields, until it is at most `target` bytes."""
    envelope: dict[str, Any] = copy.deepcopy(json.loads(body))
    report = envelope["report"]
    encoded = json.dumps(envelope, indent=2).encode()
    while len(encoded) > target and len(report["events"]) > 1:
        report["events"].pop()
        encoded = json.dumps(envelope, indent=2).encode()
    sides = [s for d in report["documents"] for s in d["sides"].values() if s is not None]
    while len(encoded) > target and any(side["fields"] for side in sides):
        max(sides, key=lambda side: len(side["fields"]))["fields"].pop()
        encoded = json.dumps(envelope, indent=2).encode()
    return encoded


def best_microseconds(statement: Any, *, number: int, repeat: int) -> float:
    """The best per-call time of `statement` over `repeat` runs of `number` calls, in µs."""
    return min(timeit.repeat(statement, number=number, repeat=repeat)) / number * 1e6


def measure(label: str, body: bytes, *, number: int, repeat: int) -> None:
    """Print one line: validation time, json.loads time and their ratio for `body`."""
    parse_report(body)  # fail fast (and warm up) if the body is not a valid report
    parse_us = best_microseconds(lambda: parse_report(body), number=number, repeat=repeat)
    loads_us = best_microseconds(lambda: json.loads(body), number=number, repeat=repeat)
    print(
        f"report validation: {parse_us:.0f} µs per {len(body) / 1000:.0f} KB {label}"
        f" (json.loads {loads_us:.0f} µs, {parse_us / loads_us:.1f}x)"
    )


def main() -> None:
    """Run the benchmark on both bodies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=2000, help="calls per repeat")
    parser.add_argument("--repeat", type=int, default=7, help="repeats; the best is kept")
    args = parser.parse_args()
    example = EXAMPLE.read_bytes()
    measure("report", example, number=args.number, repeat=args.repeat)
    measure("trimmed report", trimmed(example), number=args.number, repeat=args.repeat)


if __name__ == "__main__":
    main()
