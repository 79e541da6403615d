"""The fault suite's short version: one fast scenario of each kind, on the real stack.

Each test runs the same scenario code as `make reliability` with small sizes and short faults
(`quick`), with the service and the emulator as separate OS processes, and asserts every
target of the ledger (nothing lost or doubled, no derived id with two contents, order per user,
recovery within 10 s, no unexpected exit). The failure message lists what was missed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from reliability.harness import Run, scenario
from reliability.runner import open_run, run_one
from reliability.scenarios.crashes import TERM_BOUND_S

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def run(kafka_bootstrap: str, database_url: str) -> AsyncIterator[Run]:
    """One emulator, template database and topic factory for the module, removed after."""
    async with open_run(quick=True) as opened:
        yield opened


def _verdict(result: dict[str, Any]) -> str:
    return f"{result['name']}: {result['problems']}"


@pytest.mark.timeout(300)
async def test_sigkill_loses_nothing(run: Run) -> None:
    """A service SIGKILLed twice while draining 300 events: every event stored exactly once."""
    result = await run_one(run, "sigkill")
    assert result["passed"], _verdict(result)
    assert result["lost"] == 0
    assert result["stored"] == result["messages_in"] == 300


@pytest.mark.timeout(300)
async def test_sigterm_under_load_exits_in_bound_and_loses_nothing(run: Run) -> None:
    """SIGTERM mid-drain: exit within the bound, a successor finishes, nothing lost."""
    result = await run_one(run, "sigterm")
    assert result["passed"], _verdict(result)
    assert result["stored"] == result["messages_in"] == 200


@pytest.mark.timeout(180)
async def test_idle_service_exits_cleanly_on_sigterm(run: Run) -> None:
    """A started service with nothing to do exits cleanly within its bound on SIGTERM, through
    its own shutdown ("service stopped"), not the watchdog's (exit code 70)."""
    async with scenario(run, "sigterm-idle") as sc:
        instance = await sc.fleet.start()
        seconds = await sc.fleet.terminate(instance, timeout_s=60)
        log = (sc.fleet.log_dir / f"{instance.name}.log").read_text()
    # uvicorn re-raises the SIGTERM it handled once the app has stopped: -15, or 0.
    assert instance.process.returncode in (0, -15), log[-2000:]
    assert seconds <= TERM_BOUND_S
    assert "service stopped" in log


@pytest.mark.timeout(300)
async def test_database_cut_recovers_and_loses_nothing(run: Run) -> None:
    """PostgreSQL cut by a proxy for 5 s: nothing lost or dead-lettered, recovery within 10 s."""
    result = await run_one(run, "pg-proxy-cut")
    assert result["passed"], _verdict(result)
    assert result["dead_lettered"] == 0
    assert result["recovery_s"] is not None


@pytest.mark.timeout(300)
async def test_read_only_database_dead_letters_nothing(run: Run) -> None:
    """A read-only database for 6 s is an outage: no valid record dead-lettered, none lost."""
    result = await run_one(run, "pg-read-only")
    assert result["passed"], _verdict(result)
    assert result["dead_lettered"] == 0


@pytest.mark.timeout(300)
async def test_404_then_replay_stores_everything(run: Run) -> None:
    """Users unknown at Alice are dead-lettered, then created and replayed: replays stored."""
    result = await run_one(run, "alice-404-replay")
    assert result["passed"], _verdict(result)
    assert result["dead_lettered"] > 0
    assert result["stored"] + result["dead_lettered"] == result["messages_in"]


@pytest.mark.timeout(300)
async def test_report_changing_between_partitions_never_goes_backwards(run: Run) -> None:
    """Two instances, one user on two partitions, the report changing: the newest report wins."""
    result = await run_one(run, "two-partitions")
    assert result["passed"], _verdict(result)


@pytest.mark.timeout(300)
async def test_malformed_corpus_is_dead_lettered_and_valid_records_flow(run: Run) -> None:
    """60+ malformed records among valid ones: each dead-lettered or processed, none lost."""
    result = await run_one(run, "malformed")
    assert result["passed"], _verdict(result)
    assert result["dead_lettered"] >= 60
    assert result["lost"] == 0


@pytest.mark.timeout(300)
async def test_poison_outbox_row_is_parked_and_others_flow(run: Run) -> None:
    """A derived event the broker refuses is never delivered; every other one is, once."""
    result = await run_one(run, "poison-outbox")
    assert result["passed"], _verdict(result)
    assert result["duplicate_deliveries"] == 0
    assert result["derived_events"] > 0
