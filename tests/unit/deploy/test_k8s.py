"""The Kubernetes manifests are schema-valid, reference each other correctly and keep the
service's contract (probes, grace period, settings, secrets, KEDA and Prometheus wiring)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any, get_args

import kubernetes_validate
import pytest
import yaml
from pydantic import SecretStr

from service.settings import Settings
from tests.unit.deploy import kustomize
from tests.unit.deploy.manifests import (
    BASE,
    KUBERNETES_VERSION,
    OVERLAY,
    load_documents,
    setting_env_names,
)

BUILT_IN_KINDS = frozenset(
    {"Deployment", "ConfigMap", "Service", "PodDisruptionBudget", "Job", "ServiceAccount"}
)
CUSTOM_KINDS = {
    "ScaledObject": "keda.sh/v1alpha1",
    "ServiceMonitor": "monitoring.coreos.com/v1",
    "PrometheusRule": "monitoring.coreos.com/v1",
}
MANIFEST_FILES = sorted(
    path
    for path in [*BASE.glob("*.yaml"), *OVERLAY.glob("*.yaml")]
    if path.name != "kustomization.yaml"
)
RENDERINGS = {"base": BASE, "production": OVERLAY}


def _validate(document: dict[str, Any]) -> None:
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def _by_kind(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    kinds: dict[str, dict[str, Any]] = {}
    for document in documents:
        assert document["kind"] not in kinds, f"two objects of kind {document['kind']}"
        kinds[document["kind"]] = document
    return kinds


@pytest.fixture(params=sorted(RENDERINGS), scope="module")
def rendered(request: pytest.FixtureRequest) -> dict[str, dict[str, Any]]:
    """The base or the production overlay, rendered, by kind."""
    return _by_kind(kustomize.render(RENDERINGS[request.param]))


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    assert isinstance(container, dict)
    return container


def _secret_settings() -> set[str]:
    return {
        name.upper()
        for name, field in Settings.model_fields.items()
        if SecretStr in (field.annotation, *get_args(field.annotation))
    }


def _shutdown_timeout_s(config_map: dict[str, Any]) -> float:
    default = Settings.model_fields["shutdown_timeout_s"].default
    return float(config_map["data"].get("SHUTDOWN_TIMEOUT_S", default))


# --- schemas ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", MANIFEST_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_file_parses_and_its_built_in_objects_validate(path: Path) -> None:
    """Each manifest file parses; built-in kinds pass the strict schema (patches merged on base)."""
    base_objects = {(d["kind"], d["metadata"]["name"]): d for d in kustomize.render(BASE)}
    for document in load_documents(path):
        kind = document["kind"]
        assert kind in BUILT_IN_KINDS or kind in CUSTOM_KINDS, f"unexpected kind {kind}"
        if kind in CUSTOM_KINDS:
            assert document["apiVersion"] == CUSTOM_KINDS[kind]
            continue
        if path.parent == OVERLAY:
            # An overlay file is a patch: validate it as merged onto the object it patches.
            patched = base_objects[(kind, document["metadata"]["name"])]
            _validate(kustomize.merge(patched, document))
        else:
            _validate(document)


def test_rendered_built_in_objects_validate(rendered: dict[str, dict[str, Any]]) -> None:
    """After rendering, every built-in object of base and overlay passes the strict schema."""
    assert set(rendered) == BUILT_IN_KINDS | set(CUSTOM_KINDS)
    for kind in BUILT_IN_KINDS:
        _validate(rendered[kind])


def test_kustomizations_reference_existing_files() -> None:
    """The base lists exactly its files; the overlay's resources and patch files exist."""
    base = kustomize.load_kustomization(BASE)
    listed = set(base["resources"])
    on_disk = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk
    overlay = kustomize.load_kustomization(OVERLAY)
    for resource in overlay["resources"]:
        assert (OVERLAY / resource / "kustomization.yaml").is_file()
    patch_files = {patch["path"] for patch in overlay["patches"] if "path" in patch}
    assert patch_files == {p.name for p in OVERLAY.glob("*.yaml")} - {"kustomization.yaml"}


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("name", sorted(RENDERINGS))
def test_kubectl_kustomize_renders_valid_objects(name: str) -> None:
    """Where kubectl exists, its own kustomize renders both directories into valid objects."""
    result = subprocess.run(  # noqa: S603 - kubectl on our own manifests
        ["kubectl", "kustomize", str(RENDERINGS[name])],  # noqa: S607 - found on PATH above
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    documents = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    ours = kustomize.render(RENDERINGS[name])
    assert sorted((d["kind"], d["metadata"]["name"]) for d in documents) == sorted(
        (d["kind"], d["metadata"]["name"]) for d in ours
    )
    for document in documents:
        if document["kind"] in BUILT_IN_KINDS:
            _validate(document)


# --- the Deployment and the Job ---------------------------------------------------------------


def test_probes_point_at_the_health_endpoints(rendered: dict[str, dict[str, Any]]) -> None:
    """Startup and liveness probe /health/live, readiness /health/ready, on the container port."""
    container = _container(rendered["Deployment"])
    port_names = {port["name"] for port in container["ports"]}
    port_numbers = {port["containerPort"] for port in container["ports"]}
    http_port = int(rendered["ConfigMap"]["data"].get("HTTP_PORT", 8080))
    assert http_port in port_numbers
    expected = {
        "startupProbe": "/health/live",
        "livenessProbe": "/health/live",
        "readinessProbe": "/health/ready",
    }
    for probe, path in expected.items():
        get = container[probe]["httpGet"]
        assert get["path"] == path
        assert get["port"] in port_names | port_numbers


def test_grace_period_outlasts_the_graceful_shutdown(rendered: dict[str, dict[str, Any]]) -> None:
    """terminationGracePeriodSeconds exceeds SHUTDOWN_TIMEOUT_S plus the consumer and relay
    drains (half and a quarter of it, service/app.py), so the pod is never killed mid-commit."""
    grace = rendered["Deployment"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
    shutdown = _shutdown_timeout_s(rendered["ConfigMap"])
    assert grace > shutdown * 1.75


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_workloads_are_locked_down(rendered: dict[str, dict[str, Any]], kind: str) -> None:
    """Both workloads run non-root, read-only, without privileges, token or capabilities."""
    pod = rendered[kind]["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    assert pod["serviceAccountName"] == rendered["ServiceAccount"]["metadata"]["name"]
    container = _container(rendered[kind])
    context = container["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    assert context["seccompProfile"]["type"] == "RuntimeDefault"
    tmp = {m["name"] for m in container["volumeMounts"] if m["mountPath"] == "/tmp"}  # noqa: S108
    assert {v["name"] for v in pod["volumes"] if "emptyDir" in v} >= tmp
    assert tmp
    assert {"requests", "limits"} <= set(container["resources"])


def test_service_account_mounts_no_token(rendered: dict[str, dict[str, Any]]) -> None:
    """The ServiceAccount itself disables token automounting."""
    assert rendered["ServiceAccount"]["automountServiceAccountToken"] is False


def test_settings_come_from_the_config_map_and_secrets_from_a_secret(
    rendered: dict[str, dict[str, Any]],
) -> None:
    """Both workloads load the ConfigMap; ALICE_API_KEY and DATABASE_URL come from a Secret."""
    config_map = rendered["ConfigMap"]["metadata"]["name"]
    for kind, secrets in (
        ("Deployment", {"ALICE_API_KEY", "DATABASE_URL"}),
        ("Job", {"DATABASE_URL"}),
    ):
        container = _container(rendered[kind])
        assert {"configMapRef": {"name": config_map}} in container["envFrom"]
        from_secret = {
            env["name"]
            for env in container.get("env", [])
            if "secretKeyRef" in env.get("valueFrom", {})
        }
        assert from_secret == secrets
        assert not [
            env for env in container.get("env", []) if "value" in env and env["name"] in secrets
        ]


def test_config_map_holds_real_non_secret_settings(rendered: dict[str, dict[str, Any]]) -> None:
    """Every ConfigMap key is a setting, none is a secret one, and the values build Settings."""
    data = rendered["ConfigMap"]["data"]
    assert set(data) <= setting_env_names()
    assert not set(data) & _secret_settings()
    settings = Settings(**{k.lower(): v for k, v in data.items()}, alice_api_key="x")
    assert settings.http_port == 8080


def test_migration_job_runs_migrate_with_the_service_image(
    rendered: dict[str, dict[str, Any]],
) -> None:
    """The Job runs `migrate` once (no restarts in the pod) with the Deployment's image."""
    job, deployment = rendered["Job"], rendered["Deployment"]
    assert _container(job)["args"] == ["migrate"]
    assert _container(deployment)["args"] == ["run"]
    assert _container(job)["image"] == _container(deployment)["image"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert (
        job["spec"]["template"]["spec"]["securityContext"]
        == deployment["spec"]["template"]["spec"]["securityContext"]
    )


def test_overlay_names_the_migration_job_per_release() -> None:
    """The production Job carries a release suffix matching the image tag (Jobs are immutable)."""
    production = _by_kind(kustomize.render(OVERLAY))
    base = _by_kind(kustomize.render(BASE))
    tag = _container(production["Deployment"])["image"].rsplit(":", 1)[1]
    name = production["Job"]["metadata"]["name"]
    assert name == f"{base['Job']['metadata']['name']}-{tag.replace('.', '-')}"


# --- Service, PodDisruptionBudget, KEDA, Prometheus ----------------------------------------------


def test_service_and_pdb_select_the_deployment_pods(rendered: dict[str, dict[str, Any]]) -> None:
    """The Service and the PDB select the Deployment's pods (and not the migration Job's)."""
    pod_labels = rendered["Deployment"]["spec"]["template"]["metadata"]["labels"]
    job_labels = rendered["Job"]["spec"]["template"]["metadata"]["labels"]
    service = rendered["Service"]["spec"]
    pdb = rendered["PodDisruptionBudget"]["spec"]
    for selector in (service["selector"], pdb["selector"]["matchLabels"]):
        assert selector.items() <= pod_labels.items()
        assert not selector.items() <= job_labels.items()
    assert pdb["maxUnavailable"] == 1
    (port,) = service["ports"]
    assert port["name"] == "http-metrics"
    assert port["targetPort"] in {p["name"] for p in _container(rendered["Deployment"])["ports"]}


def test_scaled_object_scales_the_deployment_on_its_consumer_lag(
    rendered: dict[str, dict[str, Any]],
) -> None:
    """KEDA targets the Deployment with a kafka trigger on the ConfigMap's brokers, group and
    topic, from 1 replica to no more than the input topic's partitions."""
    spec = rendered["ScaledObject"]["spec"]
    data = rendered["ConfigMap"]["data"]
    assert spec["scaleTargetRef"]["name"] == rendered["Deployment"]["metadata"]["name"]
    (trigger,) = spec["triggers"]
    assert trigger["type"] == "kafka"
    metadata = trigger["metadata"]
    assert metadata["bootstrapServers"] == data["KAFKA_BOOTSTRAP_SERVERS"]
    assert metadata["consumerGroup"] == data["KAFKA_GROUP_ID"]
    assert metadata["topic"] == data["KAFKA_INPUT_TOPIC"]
    assert int(metadata["lagThreshold"]) > 0
    assert all(isinstance(value, str) for value in metadata.values())
    partitions = int(
        data.get("KAFKA_TOPIC_PARTITIONS", Settings.model_fields["kafka_topic_partitions"].default)
    )
    assert spec["minReplicaCount"] == 1
    assert 1 <= spec["maxReplicaCount"] <= partitions


def test_service_monitor_scrapes_the_metrics_port(rendered: dict[str, dict[str, Any]]) -> None:
    """The ServiceMonitor selects the Service by its labels and scrapes its port at /metrics."""
    monitor = rendered["ServiceMonitor"]["spec"]
    service = rendered["Service"]
    assert monitor["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    port_names = {port["name"] for port in service["spec"]["ports"]}
    assert monitor["endpoints"]
    for endpoint in monitor["endpoints"]:
        assert endpoint["port"] in port_names
        assert endpoint["path"] == "/metrics"
