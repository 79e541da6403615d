"""CPU cost of report minimisation per fetched report: `python -m bench.minimise_cost`
(not `make bench`; a micro-benchmark, nothing asserted).

For the example report (33 KB) and an emulator report with several devices, it times what the
worker does with a report whose bytes changed since the last fetch, before and after
minimisation: before, SHA-256 and validation of the body; after, SHA-256 of the body, the
minimisation (parse, walk, re-encode), SHA-256 of the minimised body and its validation. A
report fetched again byte for byte costs one SHA-256 in both (the hash cache). The parts of
the minimisation are timed alone too. The collector is set as `service run` sets it. The
machine is shared: before and after run in alternating batches (CPU time of the process), each
figure is the median over the rounds, the difference the median of the rounds' differences.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
import timeit
from collections.abc import Callable
from pathlib import Path

import orjson

from emulator.state import UserRegistry
from service.ingest import content_hash
from service.minimise import RECOMMENDED_RULES, Minimiser
from service.report import parse_report

EXAMPLE = Path(__file__).resolve().parent.parent / "tests" / "data" / "report-example.json"


ROUNDS = 15


def _best_us(work: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(work, number=number, repeat=7)) / number * 1e6


def _cpu_us(work: Callable[[], object], number: int) -> float:
    started = time.process_time()
    for _ in range(number):
        work()
    return (time.process_time() - started) / number * 1e6


def _paired(
    before: Callable[[], object], after: Callable[[], object], number: int
) -> tuple[float, float, float]:
    """Median CPU µs per call of `before` and `after`, and the median of their difference."""
    olds, news = [], []
    for _ in range(ROUNDS):
        olds.append(_cpu_us(before, number))
        news.append(_cpu_us(after, number))
    deltas = [new - old for old, new in zip(olds, news, strict=True)]
    return statistics.median(olds), statistics.median(news), statistics.median(deltas)


def _emulator_body() -> bytes:
    users = UserRegistry(seed=3)
    user_id = "0b7d3a52-1f0c-4c71-8a3e-5d9b8f6e2a10"
    users.create(user_id, state="TO_REVIEW", features=["several_devices"])
    return users.report_bytes(user_id)


def measure(label: str, body: bytes, number: int) -> None:
    """Print the before/after cost of a changed report and the parts of the minimisation."""
    minimiser = Minimiser(RECOMMENDED_RULES)
    minimised = minimiser.body(body)

    def before() -> None:
        content_hash(body)
        parse_report(body)

    def after() -> None:
        content_hash(body)
        kept = minimiser.body(body)
        content_hash(kept)
        parse_report(kept)

    parsed = orjson.loads(body)
    old, new, delta = _paired(before, after, number)
    parse = _best_us(lambda: orjson.loads(body), number)
    walk = _best_us(lambda: minimiser.report(orjson.loads(body)["report"]), number)
    encode = _best_us(lambda: orjson.dumps(parsed), number)
    print(
        f"{label}: {len(body) / 1000:.0f} KB -> {len(minimised) / 1000:.0f} KB minimised;"
        f" changed report {old:.0f} -> {new:.0f} µs (+{delta:.0f} µs, +{delta / old:.0%});"
        f" minimisation parts: parse {parse:.0f}, walk {walk - parse:.0f}, re-encode"
        f" {encode:.0f} µs"
    )


def main() -> None:
    """Run on both bodies."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=100, help="calls per batch")
    number = parser.parse_args().number
    # As `service run` does after start-up (service/cli.py): the objects a parsed report makes
    # would otherwise trigger collections that the service does not run.
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 50, 50)
    measure("example", EXAMPLE.read_bytes(), number)
    measure("emulator (several_devices)", _emulator_body(), number)


if __name__ == "__main__":
    main()
