"""deploy/compose.yaml wires Kafka, PostgreSQL, the migration and the service correctly."""

from __future__ import annotations

import re
from typing import Any

from service.settings import Settings
from tests.unit.deploy.manifests import NON_SETTING_ENV, ROOT, load_documents, setting_env_names

COMPOSE = ROOT / "deploy" / "compose.yaml"
OUR_IMAGE_SERVICES = ("migrate", "ingestor")


def _services() -> dict[str, Any]:
    (compose,) = load_documents(COMPOSE)
    return compose["services"]  # type: ignore[no-any-return]


def _interpolated(value: object) -> str:
    """Compose's ${VAR:-default} / ${VAR:?error} with VAR unset (a dummy for required ones)."""
    text = str(value)
    text = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", text)
    return re.sub(r"\$\{\w+:\?[^}]*\}", "set-by-the-user", text)


def test_stack_has_kafka_postgres_migrate_and_the_service() -> None:
    """The four services exist; Kafka is the apache/kafka image in KRaft mode (one node)."""
    services = _services()
    assert set(services) == {"kafka", "postgres", "migrate", "ingestor"}
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"


def test_environment_names_are_real_settings() -> None:
    """Every variable given to our image is a setting (or MIGRATIONS_DIR), and they validate."""
    services = _services()
    for name in OUR_IMAGE_SERVICES:
        environment = services[name]["environment"]
        assert set(environment) <= setting_env_names() | NON_SETTING_ENV, name
    environment = {
        key.lower(): _interpolated(value)
        for key, value in services["ingestor"]["environment"].items()
    }
    settings = Settings(**environment)
    assert settings.kafka_bootstrap_servers == "kafka:9092"


def test_start_order_is_enforced_by_health_and_completion() -> None:
    """The service waits for healthy Kafka and PostgreSQL and a migration that exited 0."""
    services = _services()
    for name in ("kafka", "postgres", "ingestor"):
        assert services[name]["healthcheck"]["test"], name
    assert services["migrate"]["command"] == ["migrate"]
    assert services["ingestor"]["command"] == ["run"]
    assert services["migrate"]["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    assert services["ingestor"]["depends_on"] == {
        "kafka": {"condition": "service_healthy"},
        "postgres": {"condition": "service_healthy"},
        "migrate": {"condition": "service_completed_successfully"},
    }
    assert (
        services["migrate"]["environment"]["DATABASE_URL"]
        == services["ingestor"]["environment"]["DATABASE_URL"]
    )
    assert services["migrate"]["image"] == services["ingestor"]["image"]


def test_the_service_reaches_kafka_on_an_advertised_listener() -> None:
    """KAFKA_BOOTSTRAP_SERVERS of the service is one of the broker's advertised listeners."""
    services = _services()
    advertised = services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    addresses = {listener.split("://", 1)[1] for listener in advertised.split(",")}
    assert services["ingestor"]["environment"]["KAFKA_BOOTSTRAP_SERVERS"] in addresses
