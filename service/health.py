"""The HTTP endpoints served with the app: liveness, readiness and Prometheus metrics.

- `/health/live` fails only when restarting the pod is the right answer: the consume loop task
  died, or messages are in flight and neither a delivered batch nor any progress (an attempt,
  a retry, a finished message) happened for LIVENESS_STALL_S plus TRANSIENT_BACKOFF_MAX_S. The
  backoff is added because the processor signals progress when an attempt starts and then may
  sleep up to TRANSIENT_BACKOFF_MAX_S before the next one: without it, a stall setting below
  the backoff would restart a pod that is merely retrying. An unreachable broker or an Alice
  outage is not a liveness failure: retries are progress.
- `/health/ready`: broker connected, database reachable and writable (no outage met by the
  service's writes: read-only, privileges, schema, authentication, see `service.store.database`),
  migrations at head, subscriber running; each dependency check is bounded
  (READY_CHECK_TIMEOUT_S) and a 503 names what failed.
- `/metrics`: the Prometheus text of the app's registry (FastStream's and the service's).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Sequence
from typing import Any

from faststream.asgi import AsgiResponse, get
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import text

from service.consumer import Consumer
from service.settings import Settings
from service.store.database import Database
from service.store.migrate import head_revision


def _json(status: int, body: dict[str, Any]) -> AsgiResponse:
    return AsgiResponse(
        json.dumps(body).encode(), status, headers={"content-type": "application/json"}
    )


READY_CHECK_TIMEOUT_S = 2.0


def stall_threshold(settings: Settings) -> float:
    """Seconds without progress, with work in flight, after which the pod counts as stuck."""
    return settings.liveness_stall_s + settings.transient_backoff_max_s


def outage_hold_s(settings: Settings) -> float:
    """How long readiness reports a database outage that no write has ended since.

    A message waiting out an outage retries at least every TRANSIENT_BACKOFF_MAX_S, so an
    outage that lasts is seen again before the hold ends; an idle service is ready again
    after it.
    """
    return max(10.0, 2 * settings.transient_backoff_max_s)


def liveness(consumer: Consumer, subscriber: Any, stall_s: float) -> tuple[bool, dict[str, Any]]:
    """Whether the consume loop is alive, with the figures that decided it."""
    now = time.monotonic()
    tasks = getattr(subscriber, "tasks", None) or []
    loop_dead = bool(tasks) and all(task.done() for task in tasks)
    idle_s = now - max(consumer.progress.last_poll, consumer.progress.last_progress)
    pending = consumer.in_flight > 0
    stuck = pending and idle_s > stall_s
    detail = {
        "in_flight": consumer.in_flight,
        "seconds_since_progress": round(idle_s, 1),
        "consume_loop_running": not loop_dead,
        "stall_threshold_s": stall_s,
    }
    return not (stuck or loop_dead), detail


def health_routes(
    *,
    settings: Settings,
    registry: CollectorRegistry,
    broker: Any,
    database: Database,
    consumer: Consumer,
    subscriber: Any,
) -> Sequence[tuple[str, Any]]:
    """The ASGI routes for AsgiFastStream."""
    head = head_revision()

    @get(include_in_schema=False)
    async def live(scope: Any) -> AsgiResponse:
        ok, detail = liveness(consumer, subscriber, stall_threshold(settings))
        return _json(200 if ok else 503, {"status": "ok" if ok else "stuck", **detail})

    async def broker_check() -> dict[str, str]:
        reachable = await broker.ping(timeout=READY_CHECK_TIMEOUT_S)
        return {"broker": "ok" if reachable else "unreachable"}

    async def database_check() -> dict[str, str]:
        try:
            async with (
                asyncio.timeout(READY_CHECK_TIMEOUT_S),
                database.transaction() as connection,
            ):
                revision, read_only = (
                    await connection.execute(
                        text(
                            "SELECT version_num, current_setting('transaction_read_only')"
                            " FROM alembic_version"
                        )
                    )
                ).one()
        except Exception as exc:
            return {"database": f"unreachable: {type(exc).__name__}", "migrations": "unknown"}
        migrations = "ok" if revision == head else f"at {revision}, head {head}"
        # What the probe cannot see (a privilege, a column, a read-only server behind a pooled
        # connection): the outage the service's own writes met, until a write succeeds.
        outage = database.outage(within_s=outage_hold_s(settings))
        state = "read-only" if read_only == "on" else (outage or "ok")
        return {"database": state, "migrations": migrations}

    @get(include_in_schema=False)
    async def ready(scope: Any) -> AsgiResponse:
        checks: dict[str, str] = {}
        for found in await asyncio.gather(broker_check(), database_check()):
            checks.update(found)
        running = bool(getattr(subscriber, "running", False)) and subscriber.consumer is not None
        checks["subscriber"] = "ok" if running else "not running"
        failing = [name for name, value in checks.items() if value != "ok"]
        body = {"status": "not ready" if failing else "ok", **checks, "failing": failing}
        return _json(503 if failing else 200, body)

    @get(include_in_schema=False)
    async def metrics(scope: Any) -> AsgiResponse:
        return AsgiResponse(generate_latest(registry), 200, {"content-type": CONTENT_TYPE_LATEST})

    return [("/health/live", live), ("/health/ready", ready), ("/metrics", metrics)]
