"""The alert rules in deploy/ watch metrics the service really exports."""

from __future__ import annotations

import re
from typing import Any

from prometheus_client import CollectorRegistry

from service.metrics import Metrics
from tests.unit.deploy.manifests import BASE, load_documents

METRIC_NAME = re.compile(r"\b(ingestor_[a-z_]+)\b")
SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}


def _exported() -> set[str]:
    """Every sample name the service's registry exposes."""
    registry = CollectorRegistry()
    Metrics(registry)
    return {
        family.name + suffix
        for family in registry.collect()
        for suffix in SUFFIXES.get(family.type, ("",))
    }


def _rules() -> list[dict[str, Any]]:
    [rule] = load_documents(BASE / "prometheusrule.yaml")
    return [r for group in rule["spec"]["groups"] for r in group["rules"]]


def test_every_alert_expression_uses_only_exported_metrics() -> None:
    """Each ingestor_* name in an alert expression is a sample the service exports."""
    exported = _exported()
    used = {name for rule in _rules() for name in METRIC_NAME.findall(rule["expr"])}
    assert used  # the rules watch the service's own metrics
    assert used <= exported, sorted(used - exported)


def test_parked_outbox_records_raise_an_alert() -> None:
    """A parked outbox record (gauge or counter) fires an alert with a severity and a summary."""
    [parked] = [r for r in _rules() if r["alert"] == "IngestorOutboxRecordParked"]
    assert "ingestor_outbox_parked_rows" in parked["expr"]
    assert "ingestor_outbox_parked_total" in parked["expr"]
    assert parked["labels"]["severity"] in {"warning", "critical"}
    assert parked["annotations"]["summary"]
