"""The scenarios of the fault suite, in the order `make reliability` runs them.

`QUICK` names the ones `make test` runs in their short version (tests/reliability/): one of
each kind that needs no long wait (no dedicated broker, no multi-instance fleet).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from reliability.harness import Run
from reliability.scenarios.alice import (
    alice_404_replay,
    alice_429,
    alice_outage,
    alice_slow,
    alice_truncated,
)
from reliability.scenarios.crashes import fleet, sigkill, sigterm
from reliability.scenarios.database import pg_proxy_cut, pg_read_only, pg_restart
from reliability.scenarios.inputs import malformed_corpus, two_partitions
from reliability.scenarios.kafka import kafka_restart, poison_outbox

ScenarioFn = Callable[[Run], Awaitable[dict[str, Any]]]

SCENARIOS: dict[str, ScenarioFn] = {
    "sigkill": sigkill,
    "pg-proxy-cut": pg_proxy_cut,
    "pg-restart": pg_restart,
    "pg-read-only": pg_read_only,
    "kafka-restart": kafka_restart,
    "alice-outage": alice_outage,
    "alice-429": alice_429,
    "alice-slow": alice_slow,
    "alice-truncated": alice_truncated,
    "alice-404-replay": alice_404_replay,
    "fleet": fleet,
    "two-partitions": two_partitions,
    "malformed": malformed_corpus,
    "sigterm": sigterm,
    "poison-outbox": poison_outbox,
}

QUICK = (
    "sigkill",
    "pg-proxy-cut",
    "pg-read-only",
    "alice-404-replay",
    "two-partitions",
    "malformed",
    "sigterm",
    "poison-outbox",
)
