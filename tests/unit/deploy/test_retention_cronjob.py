"""The retention CronJob: `retention --apply` daily with the service's image, locked down like
the other workloads, with the runtime role's database URL and, in production, PostgreSQL's CA."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.deploy.manifests import secret_env

pytestmark = pytest.mark.timeout(900)


def _pod(rendered: dict[str, dict[str, Any]]) -> dict[str, Any]:
    spec = rendered["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert isinstance(spec, dict)
    return spec


def test_cronjob_applies_retention_with_the_service_image(
    rendered: dict[str, dict[str, Any]],
) -> None:
    """One run at a time, never restarted in the pod, the Deployment's image, `retention
    --apply`, settings from the ConfigMap and DATABASE_URL from the runtime Secret."""
    cronjob = rendered["CronJob"]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    pod = _pod(rendered)
    assert pod["restartPolicy"] == "Never"
    (retention,) = pod["containers"]
    deployment = rendered["Deployment"]["spec"]["template"]["spec"]["containers"][0]
    assert retention["image"] == deployment["image"]
    assert retention["args"] == ["retention", "--apply"]
    assert retention["envFrom"] == [
        {"configMapRef": {"name": rendered["ConfigMap"]["metadata"]["name"]}}
    ]
    assert secret_env(retention)["DATABASE_URL"] == secret_env(deployment)["DATABASE_URL"]
    assert "ALICE_API_KEY" not in secret_env(retention)


def test_cronjob_is_locked_down(rendered: dict[str, dict[str, Any]]) -> None:
    """Non-root, read-only root, no privilege escalation, no capabilities, no token."""
    pod = _pod(rendered)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    (retention,) = pod["containers"]
    context = retention["securityContext"]
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    assert {"requests", "limits"} <= set(retention["resources"])


def test_production_cronjob_verifies_postgresql(production: dict[str, dict[str, Any]]) -> None:
    """In production it mounts the PostgreSQL CA and needs no Kafka credentials."""
    pod = _pod(production)
    (retention,) = pod["containers"]
    mounts = {m["name"]: m["mountPath"] for m in retention["volumeMounts"]}
    assert mounts["tls-ca"] == "/etc/alice-report-ingestor/tls"
    assert {"name": "KAFKA_SECURITY_PROTOCOL", "value": "SSL"} in retention["env"]
    assert production["ConfigMap"]["data"]["DATABASE_SSLMODE"] == "verify-full"
