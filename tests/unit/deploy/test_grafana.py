"""The Grafana dashboard queries only metrics the service exports, and covers the pipeline."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from prometheus_client import CollectorRegistry

from service.metrics import Metrics
from tests.unit.deploy.manifests import ROOT

DASHBOARD = ROOT / "deploy" / "grafana" / "alice-report-ingestor.json"

# PromQL functions and aggregations the dashboard may call, and the keywords between operands.
FUNCTIONS = frozenset(
    {"sum", "max", "min", "avg", "count", "rate", "irate", "increase", "histogram_quantile",
     "topk", "bottomk", "clamp_min", "clamp_max", "abs", "time", "vector", "label_values"}
)  # fmt: skip
KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right", "bool",
                      "offset", "and", "or", "unless"})  # fmt: skip
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
LABEL_VALUES = re.compile(r"label_values\(\s*([A-Za-z_:][\w:]*)")


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (functions, labels and keywords removed)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # string literals (label values)
    expr = re.sub(r"\{[^}]*\}", "", expr)  # label matchers
    expr = re.sub(r"\[[^\]]*\]", "", expr)  # range selectors
    expr = GROUPING.sub("", expr)  # label lists of by/without/on/ignoring
    expr = re.sub(r"\$\{?\w+\}?", "", expr)  # Grafana variables
    names = set()
    for match in re.finditer(r"(?<![\w.])[A-Za-z_:][\w:]*", expr):
        token = match.group()
        if expr[match.end() :].lstrip().startswith("("):
            assert token in FUNCTIONS, f"unknown function {token} in {expr}"
        elif token not in KEYWORDS:
            names.add(token)
    return names


def exported_names() -> set[str]:
    """Every series name the service's registry exposes, with prometheus_client's suffixes."""
    registry = CollectorRegistry()
    Metrics(registry)
    KafkaPrometheusMiddleware(registry=registry)
    suffixes = {
        "counter": ("_total",),
        "gauge": ("",),
        "histogram": ("_bucket", "_count", "_sum"),
        "summary": ("_count", "_sum"),
    }
    return {
        family.name + suffix for family in registry.collect() for suffix in suffixes[family.type]
    }


def _dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))  # type: ignore[no-any-return]


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def _expressions(dashboard: dict[str, Any]) -> list[str]:
    return [target["expr"] for panel in _panels(dashboard) for target in panel.get("targets", [])]


def _queried_names(dashboard: dict[str, Any]) -> set[str]:
    names = {name for expr in _expressions(dashboard) for name in metric_names(expr)}
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        text = query.get("query", "") if isinstance(query, dict) else ""
        names.update(LABEL_VALUES.findall(text))
    return names


def test_the_extractor_finds_metric_names_only() -> None:
    """metric_names drops functions, labels, ranges, grouping clauses, variables and numbers."""
    expr = (
        'histogram_quantile(0.99, sum by (le, endpoint) (rate(a_bucket{ns=~"$ns", x="y{z}"}'
        "[$__rate_interval]))) / on (pod) group_left sum(b_total offset 5m) > bool 1"
    )
    assert metric_names(expr) == {"a_bucket", "b_total"}


def test_faststream_metrics_are_registered_without_traffic() -> None:
    """FastStream's Kafka middleware registers its metrics on construction (names to compare)."""
    assert "faststream_received_messages_total" in exported_names()


def test_every_queried_metric_is_exported() -> None:
    """Each metric name in the dashboard's queries and variables is a series the service exposes."""
    unknown = _queried_names(_dashboard()) - exported_names()
    assert not unknown, f"the dashboard queries metrics the service does not export: {unknown}"


@pytest.mark.parametrize(
    "metric",
    [
        "ingestor_messages_total",
        "ingestor_alice_request_duration_seconds_bucket",
        "ingestor_consumer_lag",
        "ingestor_outbox_backlog",
        "ingestor_outbox_oldest_age_seconds",
        "ingestor_dead_letters_total",
        "ingestor_db_transaction_duration_seconds_bucket",
        "ingestor_in_flight_messages",
        "ingestor_reconcile_pending_users",
        "ingestor_reconcile_checks_total",
        "ingestor_reconcile_oldest_due_age_seconds",
        "ingestor_alice_concurrency_limit",
        "ingestor_alice_limiter_waits_total",
        "ingestor_alice_limiter_wait_seconds_total",
        "ingestor_alice_breaker_state",
    ],
)
def test_the_dashboard_covers_the_pipeline(metric: str) -> None:
    """Throughput, outcomes, Alice latency, lag, outbox, DLQ, DB latency, in-flight and the
    Alice budget (concurrency limit, limiter waits, breaker state) are shown."""
    assert metric in _queried_names(_dashboard())


def test_alice_latency_is_shown_as_p50_and_p99_by_endpoint() -> None:
    """The Alice latency panel computes both quantiles grouped by endpoint."""
    alice = [e for e in _expressions(_dashboard()) if "ingestor_alice_request_duration" in e]
    for quantile in ("0.5", "0.99"):
        assert any(
            e.startswith(f"histogram_quantile({quantile},") and "by (le, endpoint)" in e
            for e in alice
        )


def test_panels_have_unique_ids_and_use_the_datasource_variable() -> None:
    """Panel ids are unique and every query panel reads the dashboard's datasource variable."""
    panels = list(_panels(_dashboard()))
    ids = [panel["id"] for panel in panels]
    assert len(ids) == len(set(ids))
    for panel in panels:
        if panel.get("targets"):
            assert panel["datasource"]["uid"] == "${datasource}"
