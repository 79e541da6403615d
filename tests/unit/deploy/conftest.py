"""Fixtures of the deployment tests: the real kustomize, built once per machine."""

from __future__ import annotations

import pytest

from tests.unit.deploy.rendering import Kustomize, ensure_kustomize


@pytest.fixture(scope="session")
def kustomize() -> Kustomize:
    """kustomize at the version deploy/local/ensure-kustomize.sh pins (built if missing)."""
    return Kustomize(ensure_kustomize())
