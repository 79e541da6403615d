"""The history API's Kubernetes component: off in the base, complete when an overlay adds it."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from service.settings import Settings
from tests.unit.deploy.manifests import BASE, K8S, by_kind, container, secret_env
from tests.unit.deploy.rendering import Kustomize

COMPONENT = K8S / "components" / "history-api"


def _with_component(kustomize: Kustomize) -> dict[str, dict[str, Any]]:
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        kustomization = {
            "apiVersion": "kustomize.config.k8s.io/v1beta1",
            "kind": "Kustomization",
            "resources": [os.path.relpath(BASE, directory)],
            "components": [os.path.relpath(COMPONENT, directory)],
        }
        (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
        return by_kind(kustomize.build(directory))


def test_base_serves_no_history(rendered: dict[str, dict[str, Any]]) -> None:
    """Neither the base nor production sets HISTORY_API_PORT or declares the history port."""
    assert "HISTORY_API_PORT" not in rendered["ConfigMap"]["data"]
    assert "http-history" not in {p["name"] for p in container(rendered["Deployment"])["ports"]}


def test_component_declares_port_secret_and_ingress(kustomize: Kustomize) -> None:
    """With the component: the Deployment's HISTORY_API_PORT is the container's and the
    Service's `http-history`, the tokens come from the Secret, the NetworkPolicy admits that
    port from labelled clients only, and the settings (with a token) are valid; the shared
    ConfigMap (read by the migration Job and the retention CronJob, which have no tokens) does
    not set the port."""
    objects = _with_component(kustomize)
    data = objects["ConfigMap"]["data"]
    assert "HISTORY_API_PORT" not in data
    plain = {e["name"]: e.get("value") for e in container(objects["Deployment"])["env"]}
    port = int(plain["HISTORY_API_PORT"])
    ports = {p["name"]: p["containerPort"] for p in container(objects["Deployment"])["ports"]}
    assert ports["http-history"] == port
    service_ports = {p["name"]: p for p in objects["Service"]["spec"]["ports"]}
    assert service_ports["http-history"]["port"] == port
    secrets = secret_env(container(objects["Deployment"]))
    assert secrets["HISTORY_API_TOKENS"] == ("alice-report-ingestor", "HISTORY_API_TOKENS")
    rules = objects["NetworkPolicy"]["spec"]["ingress"]
    (history_rule,) = [
        r for r in rules if {"port": "http-history", "protocol": "TCP"} in r["ports"]
    ]
    (peer,) = history_rule["from"]
    assert peer == {
        "podSelector": {"matchLabels": {"alice-report-ingestor/history-client": "true"}}
    }
    settings = Settings(
        alice_api_key=SecretStr("k"),
        history_api_port=port,
        http_port=int(data["HTTP_PORT"]),
        history_api_tokens=SecretStr("reviewer:0123456789abcdef0123"),
    )
    assert settings.history_api_port == port
