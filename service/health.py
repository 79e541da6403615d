"""The HTTP endpoints served with the app: liveness, readiness and Prometheus metrics.

- `/health/live` fails only when restarting the pod is the right answer: work is pending (in
  flight or lag) and neither a poll nor any progress (an attempt, a retry, a finished message)
  happened within LIVENESS_STALL_S. An unreachable broker or Alice outage is not a liveness
  failure: retries are progress.
- `/health/ready`: broker connected, database reachable, migrations at head, subscriber running.
- `/metrics`: the Prometheus text of the app's registry (FastStream's and the service's).
"""

from __future__ import annotations

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
        ok, detail = liveness(consumer, subscriber, settings.liveness_stall_s)
        return _json(200 if ok else 503, {"status": "ok" if ok else "stuck", **detail})

    @get(include_in_schema=False)
    async def ready(scope: Any) -> AsgiResponse:
        checks: dict[str, str] = {}
        checks["broker"] = "ok" if await broker.ping(timeout=2.0) else "unreachable"
        try:
            async with database.transaction() as connection:
                revision = await connection.scalar(text("SELECT version_num FROM alembic_version"))
            checks["database"] = "ok"
            checks["migrations"] = "ok" if revision == head else f"at {revision}, head {head}"
        except Exception as exc:
            checks["database"] = f"unreachable: {type(exc).__name__}"
            checks["migrations"] = "unknown"
        running = bool(getattr(subscriber, "running", False)) and subscriber.consumer is not None
        checks["subscriber"] = "ok" if running else "not running"
        ok = all(value == "ok" for value in checks.values())
        return _json(200 if ok else 503, {"status": "ok" if ok else "not ready", **checks})

    @get(include_in_schema=False)
    async def metrics(scope: Any) -> AsgiResponse:
        return AsgiResponse(generate_latest(registry), 200, {"content-type": CONTENT_TYPE_LATEST})

    return [("/health/live", live), ("/health/ready", ready), ("/metrics", metrics)]
