"""Shared helpers of the deployment tests: the repository paths and YAML loading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from service.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
OVERLAY = K8S / "overlays" / "production"
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
