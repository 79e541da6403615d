"""Fixtures of the deployment tests: the real kustomize, built once per machine, and what it
renders."""

from __future__ import annotations

from typing import Any

import pytest

from tests.unit.deploy.manifests import OVERLAY, RENDERINGS, by_kind
from tests.unit.deploy.rendering import Kustomize, ensure_kustomize


@pytest.fixture(scope="session")
def kustomize() -> Kustomize:
    """kustomize at the version deploy/local/ensure-kustomize.sh pins (built if missing)."""
    return Kustomize(ensure_kustomize())


@pytest.fixture(params=sorted(RENDERINGS), scope="module")
def rendered(request: pytest.FixtureRequest, kustomize: Kustomize) -> dict[str, dict[str, Any]]:
    """The base or the production overlay, rendered by kustomize, by kind."""
    return by_kind(kustomize.build(RENDERINGS[request.param]))


@pytest.fixture(scope="module")
def production(kustomize: Kustomize) -> dict[str, dict[str, Any]]:
    """The production overlay, rendered by kustomize, by kind."""
    return by_kind(kustomize.build(OVERLAY))
