"""Shared helpers of the deployment tests: the repository paths, YAML loading, and lookups in
rendered objects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from service.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAY = K8S / "overlays" / "production"
RENDERINGS = {"base": BASE, "production": OVERLAY}
KUBERNETES_VERSION = "1.30.0"

# Environment variables the image or its tooling reads besides the settings.
NON_SETTING_ENV = frozenset({"MIGRATIONS_DIR"})


def load_documents(path: Path) -> list[dict[str, Any]]:
    """Every non-empty YAML document of a file."""
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc]


def setting_env_names() -> frozenset[str]:
    """The environment variable names of every setting (pydantic-settings, case-insensitive)."""
    return frozenset(name.upper() for name in Settings.model_fields)


def by_kind(documents: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Rendered objects by kind (each kind appears once in our manifests)."""
    kinds: dict[str, dict[str, Any]] = {}
    for document in documents:
        assert document["kind"] not in kinds, f"two objects of kind {document['kind']}"
        kinds[document["kind"]] = document
    return kinds


def container(workload: dict[str, Any]) -> dict[str, Any]:
    """The one container of a Deployment's or a Job's pod."""
    (only,) = workload["spec"]["template"]["spec"]["containers"]
    assert isinstance(only, dict)
    return only


def secret_env(workload_container: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """The container's variables read from a Secret: name -> (Secret name, key)."""
    return {
        env["name"]: (
            env["valueFrom"]["secretKeyRef"]["name"],
            env["valueFrom"]["secretKeyRef"]["key"],
        )
        for env in workload_container.get("env", [])
        if "secretKeyRef" in env.get("valueFrom", {})
    }
