"""CPU cost of sealing per report: `python -m bench.crypto_cost` (not `make bench`).

What the ingest path adds per stored report (tests/data/report-example.json): sealing the
response body, serialising and sealing each user event, and taking the user's data key from the
in-process cache; beside it, validating the same body (`parse_report`), which every stored
report already costs, for scale. Process CPU, median of 5 runs of N reports each. A new user
also costs one AES-GCM wrap of its new key (measured too) and one statement per batch.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from service.crypto.cipher import EVENT, REPORT, seal
from service.crypto.datakeys import DataKeys
from service.crypto.keyring import Keyring, new_kek_text, parse_keys
from service.report import parse_report

BODY = (Path(__file__).resolve().parents[1] / "tests/data/report-example.json").read_bytes()
USER = "3f0c1d8e-6a55-4c1e-9d3e-0b7f1a2c4d5e"
N = 2_000
RUNS = 5


def _per_call_us(work: Callable[[], object]) -> float:
    samples = []
    for _ in range(RUNS):
        started = time.process_time()
        for _ in range(N):
            work()
        samples.append((time.process_time() - started) / N * 1e6)
    return statistics.median(samples)


def main() -> None:
    """Print the CPU per report of each step, in microseconds."""
    keyring = Keyring.of(parse_keys(new_kek_text("bench")))
    data_keys = DataKeys(keyring)
    wrapped = keyring.wrap(USER, os.urandom(32))
    parsed = parse_report(BODY)
    events = [e for e in parsed.report.events if e.id]

    def sealing() -> None:
        key = data_keys.cipher(USER, wrapped)
        seal(key, USER, REPORT, BODY)
        for event in events:
            seal(key, USER, EVENT, event.__pydantic_serializer__.to_json(event))

    costs = {
        "parse_report (already paid, for scale)": _per_call_us(lambda: parse_report(BODY)),
        f"seal body ({len(BODY)} B) + {len(events)} events, cached key": _per_call_us(sealing),
        "new user's key: wrap once": _per_call_us(lambda: keyring.wrap(USER, os.urandom(32))),
    }
    for what, micros in costs.items():
        print(f"{micros:9.1f} µs  {what}")
    parse = next(iter(costs.values()))
    seal_cost = list(costs.values())[1]
    print(f"sealing is {seal_cost / parse:.1%} of one validation")


if __name__ == "__main__":
    main()
