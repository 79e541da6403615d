"""The Kubernetes manifests are schema-valid, reference each other correctly and keep the
service's contract (probes, grace period, settings, secrets, KEDA and Prometheus wiring)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any, get_args

import kubernetes_validate
import pytest
from pydantic import SecretStr

from service.settings import Settings
from tests.unit.deploy.manifests import (
    BASE,
    KUBERNETES_VERSION,
    OVERLAY,
    by_kind,
    container,
    load_documents,
    secret_env,
    setting_env_names,
)
from tests.unit.deploy.rendering import Kustomize

# The first test to ask for kustomize may build it (about two minutes on a busy machine).
pytestmark = pytest.mark.timeout(900)

BUILT_IN_KINDS = frozenset(
    {
        "Deployment",
        "ConfigMap",
        "Service",
        "PodDisruptionBudget",
        "Job",
        "CronJob",
        "ServiceAccount",
        "NetworkPolicy",
    }
)
CUSTOM_KINDS = {
    "ScaledObject": "keda.sh/v1alpha1",
    "ServiceMonitor": "monitoring.coreos.com/v1",
    "TriggerAuthentication": "keda.sh/v1alpha1",
    "PrometheusRule": "monitoring.coreos.com/v1",
}
MANIFEST_FILES = sorted(
    path
    for path in [*BASE.glob("*.yaml"), *OVERLAY.glob("*.yaml")]
    if path.name != "kustomization.yaml"
)


def _validate(document: dict[str, Any]) -> None:
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


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
def test_every_file_parses_and_its_built_in_objects_validate(
    path: Path, kustomize: Kustomize
) -> None:
    """Each manifest file parses; built-in kinds pass the strict schema, and an overlay patch
    does so as kustomize applies it, alone, onto the base."""
    for document in load_documents(path):
        kind = document["kind"]
        assert kind in BUILT_IN_KINDS or kind in CUSTOM_KINDS, f"unexpected kind {kind}"
        if kind in CUSTOM_KINDS:
            assert document["apiVersion"] == CUSTOM_KINDS[kind]
            continue
        if path.parent == OVERLAY and path.name not in _overlay_resources():
            patched = {
                (d["kind"], d["metadata"]["name"]): d
                for d in kustomize.build_with_patch(BASE, path)
            }
            _validate(patched[(kind, document["metadata"]["name"])])
        else:
            _validate(document)


def _overlay_resources() -> set[str]:
    (overlay,) = load_documents(OVERLAY / "kustomization.yaml")
    return set(overlay["resources"])


def test_rendered_built_in_objects_validate(rendered: dict[str, dict[str, Any]]) -> None:
    """After rendering, every built-in object of base and overlay passes the strict schema."""
    assert BUILT_IN_KINDS | {"ScaledObject", "ServiceMonitor"} <= set(rendered)
    assert set(rendered) <= BUILT_IN_KINDS | set(CUSTOM_KINDS)
    for kind in BUILT_IN_KINDS:
        _validate(rendered[kind])


def test_kustomizations_reference_existing_files() -> None:
    """The base lists exactly its files; the overlay's resources and patch files exist."""
    (base,) = load_documents(BASE / "kustomization.yaml")
    listed = set(base["resources"])
    on_disk = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == on_disk
    (overlay,) = load_documents(OVERLAY / "kustomization.yaml")
    directories = [r for r in overlay["resources"] if (OVERLAY / r).is_dir()]
    assert directories == ["../../base"]
    files = set(overlay["resources"]) - set(directories)
    patch_files = {patch["path"] for patch in overlay["patches"] if "path" in patch}
    assert not files & patch_files
    assert files | patch_files == {p.name for p in OVERLAY.glob("*.yaml")} - {"kustomization.yaml"}


def test_production_spreads_pods_over_zones_and_nodes(
    production: dict[str, dict[str, Any]],
) -> None:
    """kustomize merges the overlay's hostname spread beside the base's zone spread (by key)."""
    constraints = production["Deployment"]["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert sorted(c["topologyKey"] for c in constraints) == [
        "kubernetes.io/hostname",
        "topology.kubernetes.io/zone",
    ]
    pod_labels = production["Deployment"]["spec"]["template"]["metadata"]["labels"]
    for constraint in constraints:
        assert constraint["labelSelector"]["matchLabels"].items() <= pod_labels.items()


# --- the Deployment and the Job ---------------------------------------------------------------


def test_probes_point_at_the_health_endpoints(rendered: dict[str, dict[str, Any]]) -> None:
    """Startup and liveness probe /health/live, readiness /health/ready, on the container port."""
    ingestor = container(rendered["Deployment"])
    port_names = {port["name"] for port in ingestor["ports"]}
    port_numbers = {port["containerPort"] for port in ingestor["ports"]}
    http_port = int(rendered["ConfigMap"]["data"].get("HTTP_PORT", 8080))
    assert http_port in port_numbers
    expected = {
        "startupProbe": "/health/live",
        "livenessProbe": "/health/live",
        "readinessProbe": "/health/ready",
    }
    for probe, path in expected.items():
        get = ingestor[probe]["httpGet"]
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
    ingestor = container(rendered[kind])
    context = ingestor["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["readOnlyRootFilesystem"] is True
    assert context["allowPrivilegeEscalation"] is False
    assert context["capabilities"]["drop"] == ["ALL"]
    assert context["seccompProfile"]["type"] == "RuntimeDefault"
    tmp = {m["name"] for m in ingestor["volumeMounts"] if m["mountPath"] == "/tmp"}  # noqa: S108
    assert {v["name"] for v in pod["volumes"] if "emptyDir" in v} >= tmp
    assert tmp
    assert {"requests", "limits"} <= set(ingestor["resources"])


def test_service_account_mounts_no_token(rendered: dict[str, dict[str, Any]]) -> None:
    """The ServiceAccount itself disables token automounting."""
    assert rendered["ServiceAccount"]["automountServiceAccountToken"] is False


def test_settings_come_from_the_config_map_and_secrets_from_a_secret(
    rendered: dict[str, dict[str, Any]],
) -> None:
    """Both workloads load the ConfigMap; the Deployment's ALICE_API_KEY and DATABASE_URL (and
    the SASL credentials where SASL is on) come from its Secret, ENCRYPTION_KEYS from the KEKs'
    own Secret, the Job's DATABASE_URL from the migration role's own Secret, and no secret
    setting has a literal value."""
    config_map = rendered["ConfigMap"]["metadata"]["name"]
    sasl = rendered["ConfigMap"]["data"]["KAFKA_SECURITY_PROTOCOL"].startswith("SASL_")
    runtime = {"ALICE_API_KEY", "DATABASE_URL", "ENCRYPTION_KEYS"}
    if sasl:
        runtime |= {"KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"}
    deployment, job = container(rendered["Deployment"]), container(rendered["Job"])
    for workload, secrets in ((deployment, runtime), (job, {"DATABASE_URL"})):
        assert {"configMapRef": {"name": config_map}} in workload["envFrom"]
        assert set(secret_env(workload)) == secrets
        assert not [
            env for env in workload.get("env", []) if "value" in env and env["name"] in secrets
        ]
    assert secret_env(deployment)["DATABASE_URL"] == ("alice-report-ingestor", "DATABASE_URL")
    assert secret_env(job)["DATABASE_URL"] == ("alice-report-ingestor-migration", "DATABASE_URL")
    assert secret_env(deployment)["ENCRYPTION_KEYS"] == (
        "alice-report-ingestor-keks",
        "ENCRYPTION_KEYS",
    )


def test_config_map_holds_real_non_secret_settings(rendered: dict[str, dict[str, Any]]) -> None:
    """Every ConfigMap key is a setting, none is a secret one, and the values, with the
    Deployment's Secret-sourced variables, build Settings."""
    data = rendered["ConfigMap"]["data"]
    assert set(data) <= setting_env_names()
    assert not set(data) & _secret_settings()
    from_secret = dict.fromkeys(secret_env(container(rendered["Deployment"])), "from-a-secret")
    from_secret["DATABASE_URL"] = "postgresql://runtime:pw@db:5432/alice_report_ingestor"
    from_secret["ENCRYPTION_KEYS"] = "k1:" + base64.b64encode(bytes(32)).decode()
    settings = Settings(**{k.lower(): v for k, v in {**data, **from_secret}.items()})
    assert settings.http_port == 8080


def test_migration_job_runs_migrate_with_the_service_image(
    rendered: dict[str, dict[str, Any]],
) -> None:
    """The Job runs `migrate` once (no restarts in the pod) with the Deployment's image."""
    job, deployment = rendered["Job"], rendered["Deployment"]
    assert container(job)["args"] == ["migrate"]
    assert container(deployment)["args"] == ["run"]
    assert container(job)["image"] == container(deployment)["image"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    assert (
        job["spec"]["template"]["spec"]["securityContext"]
        == deployment["spec"]["template"]["spec"]["securityContext"]
    )


def test_overlay_names_the_migration_job_per_release(
    production: dict[str, dict[str, Any]], kustomize: Kustomize
) -> None:
    """The production Job carries a release suffix matching the image tag (Jobs are immutable)."""
    base = by_kind(kustomize.build(BASE))
    tag = container(production["Deployment"])["image"].rsplit(":", 1)[1]
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
    assert port["targetPort"] in {p["name"] for p in container(rendered["Deployment"])["ports"]}


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
