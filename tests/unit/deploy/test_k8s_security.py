"""The manifests are secure by default: production reaches Kafka over SASL_SSL and PostgreSQL
with verify-full (CA certificates mounted, credentials from Secrets), Alice only over https, and
a NetworkPolicy lets the pods reach only their peers and be reached only on the metrics port."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import pytest

from service.settings import Settings
from tests.unit.deploy.manifests import container, secret_env

pytestmark = pytest.mark.timeout(900)  # the first test to ask for kustomize may build it

Objects = dict[str, dict[str, Any]]
# KEDA's kafka scaler names the SASL mechanisms its own way.
KEDA_SASL = {"PLAIN": "plaintext", "SCRAM-SHA-256": "scram_sha256", "SCRAM-SHA-512": "scram_sha512"}
PRIVATE_RANGES = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}
# DNS, PostgreSQL, Kafka (plain, TLS), Alice over HTTPS, OTLP (gRPC, HTTP).
ALLOWED_EGRESS_PORTS = {53, 5432, 9092, 9093, 443, 4317, 4318}


def _mounted_secret_file(workload: dict[str, Any], path: str) -> tuple[str, str]:
    """The Secret and key a file path is read from, through a read-only volume mount."""
    pod = workload["spec"]["template"]["spec"]
    file = PurePosixPath(path)
    for mount in container(workload)["volumeMounts"]:
        if file.parent == PurePosixPath(mount["mountPath"]):
            assert mount["readOnly"] is True
            (volume,) = [v for v in pod["volumes"] if v["name"] == mount["name"]]
            (key,) = [i["key"] for i in volume["secret"]["items"] if i["path"] == file.name]
            return str(volume["secret"]["secretName"]), str(key)
    raise AssertionError(f"{path} is not mounted in {workload['metadata']['name']}")


def test_production_reaches_kafka_over_sasl_ssl_with_credentials_from_a_secret(
    production: Objects,
) -> None:
    """The production ConfigMap selects SASL_SSL with SCRAM, the CA file is mounted from a
    Secret, and the SASL user and password come from the Deployment's Secret."""
    data = production["ConfigMap"]["data"]
    assert data["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    assert data["KAFKA_SASL_MECHANISM"] in {"SCRAM-SHA-256", "SCRAM-SHA-512"}
    deployment = production["Deployment"]
    assert _mounted_secret_file(deployment, data["KAFKA_SSL_CAFILE"])
    from_secret = secret_env(container(deployment))
    assert {"KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"} <= set(from_secret)
    assert "KAFKA_SASL_PASSWORD" not in data


@pytest.mark.parametrize("kind", ["Deployment", "Job"])
def test_production_verifies_the_database_certificate_and_host(
    production: Objects, kind: str
) -> None:
    """Both workloads connect with DATABASE_SSLMODE=verify-full and the root certificate
    mounted from a Secret at DATABASE_SSL_ROOTCERT."""
    data = production["ConfigMap"]["data"]
    assert data["DATABASE_SSLMODE"] == "verify-full"
    assert _mounted_secret_file(production[kind], data["DATABASE_SSL_ROOTCERT"])


def test_migration_job_holds_no_kafka_credentials_and_keeps_valid_settings(
    production: Objects,
) -> None:
    """The Job never talks to Kafka: it gets no SASL secret, and its override of the protocol
    stays encrypted, so the shared ConfigMap still builds Settings in its pod."""
    job = container(production["Job"])
    assert not {"KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"} & set(secret_env(job))
    literal = {env["name"]: env["value"] for env in job["env"] if "value" in env}
    assert literal == {"KAFKA_SECURITY_PROTOCOL": "SSL"}
    values = {**production["ConfigMap"]["data"], **literal}
    settings = Settings(
        **{k.lower(): v for k, v in values.items()},
        database_url="postgresql://migrator:pw@db:5432/alice_report_ingestor",
        alice_api_key="unused-by-migrate",
    )
    assert settings.kafka_security_protocol == "SSL"


def test_alice_is_reached_over_https_only(rendered: Objects) -> None:
    """The ConfigMap's ALICE_API_URL is https:// and the development allowance is not set."""
    data = rendered["ConfigMap"]["data"]
    assert urlsplit(data["ALICE_API_URL"]).scheme == "https"
    assert "ALLOW_INSECURE_ALICE_URL" not in data


def test_keda_reads_the_lag_the_way_the_service_connects(production: Objects) -> None:
    """KEDA's trigger uses SCRAM over TLS with the Deployment's own SASL Secret keys and the
    Kafka CA, through a TriggerAuthentication that exists in the overlay."""
    (trigger,) = production["ScaledObject"]["spec"]["triggers"]
    authentication = production["TriggerAuthentication"]
    assert trigger["authenticationRef"]["name"] == authentication["metadata"]["name"]
    mechanism = production["ConfigMap"]["data"]["KAFKA_SASL_MECHANISM"]
    assert trigger["metadata"]["sasl"] == KEDA_SASL[mechanism]
    assert trigger["metadata"]["tls"] == "enable"
    refs = {
        r["parameter"]: (r["name"], r["key"]) for r in authentication["spec"]["secretTargetRef"]
    }
    from_secret = secret_env(container(production["Deployment"]))
    assert refs["username"] == from_secret["KAFKA_SASL_USERNAME"]
    assert refs["password"] == from_secret["KAFKA_SASL_PASSWORD"]
    ca_file = production["ConfigMap"]["data"]["KAFKA_SSL_CAFILE"]
    assert refs["ca"] == _mounted_secret_file(production["Deployment"], ca_file)


# --- NetworkPolicy -------------------------------------------------------------------------------


def _port_number(port: int | str, workload: dict[str, Any]) -> int:
    if isinstance(port, int):
        return port
    (named,) = [p for p in container(workload)["ports"] if p["name"] == port]
    return int(named["containerPort"])


def test_network_policy_selects_both_workloads(rendered: Objects) -> None:
    """The policy selects the consumer's and the migration Job's pods, for both directions."""
    spec = rendered["NetworkPolicy"]["spec"]
    assert set(spec["policyTypes"]) == {"Ingress", "Egress"}
    selector = spec["podSelector"]["matchLabels"].items()
    for kind in ("Deployment", "Job"):
        assert selector <= rendered[kind]["spec"]["template"]["metadata"]["labels"].items()


def test_network_policy_admits_only_the_metrics_port(rendered: Objects) -> None:
    """Ingress is the health and metrics port (probes, Prometheus) and nothing else."""
    (rule,) = rendered["NetworkPolicy"]["spec"]["ingress"]
    ports = {_port_number(p["port"], rendered["Deployment"]) for p in rule["ports"]}
    assert ports == {int(rendered["ConfigMap"]["data"]["HTTP_PORT"])}


def test_network_policy_egress_reaches_only_the_service_peers(rendered: Objects) -> None:
    """Every egress rule names its ports, all among DNS, PostgreSQL, Kafka, HTTPS and OTLP; DNS
    goes to kube-dns only, HTTPS to public addresses only; and the configured Kafka and OTLP
    ports are among those allowed."""
    rules = rendered["NetworkPolicy"]["spec"]["egress"]
    allowed: set[int] = set()
    for rule in rules:
        ports = {int(p["port"]) for p in rule["ports"]}
        assert ports <= ALLOWED_EGRESS_PORTS
        allowed |= ports
        if 53 in ports:
            assert ports == {53}
            (peer,) = rule["to"]
            assert peer["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
        if 443 in ports:
            assert ports == {443}
            (peer,) = rule["to"]
            assert set(peer["ipBlock"]["except"]) >= PRIVATE_RANGES
    data = rendered["ConfigMap"]["data"]
    kafka_ports = {
        int(server.rsplit(":", 1)[1]) for server in data["KAFKA_BOOTSTRAP_SERVERS"].split(",")
    }
    assert kafka_ports <= allowed
    assert {53, 443, 5432} <= allowed
    if "OTEL_EXPORTER_OTLP_ENDPOINT" in data:
        assert urlsplit(data["OTEL_EXPORTER_OTLP_ENDPOINT"]).port in allowed
