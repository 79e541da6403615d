"""The manifests as the real kustomize renders them (`kustomize build`), never re-implemented.

deploy/local/ensure-kustomize.sh builds the pinned kustomize from the Go module proxy once per
machine into the project cache and prints its path; a machine where it cannot be built fails
the deployment tests with the script's own explanation instead of skipping them.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.unit.deploy.manifests import ROOT

ENSURE_SCRIPT = ROOT / "deploy" / "local" / "ensure-kustomize.sh"


def ensure_kustomize() -> Path:
    """The kustomize binary, built on first use; fails the test run when it cannot be built."""
    result = subprocess.run(  # noqa: S603 - our own script, no input from outside
        [str(ENSURE_SCRIPT)], capture_output=True, text=True, check=False
    )
    binary = Path(result.stdout.strip()) if result.returncode == 0 else None
    if binary is None or not binary.is_file():
        pytest.fail(
            f"kustomize could not be built ({ENSURE_SCRIPT.name} exited {result.returncode}):\n"
            f"{result.stderr[-3000:]}",
            pytrace=False,
        )
    return binary


class Kustomize:
    """Runs `kustomize build`; each directory is rendered once per session."""

    def __init__(self, binary: Path) -> None:
        self.binary = binary
        self._cache: dict[Path, list[dict[str, Any]]] = {}

    def build(self, directory: Path) -> list[dict[str, Any]]:
        """The objects a kustomization directory produces (fresh copies, safe to modify)."""
        directory = directory.resolve()
        if directory not in self._cache:
            self._cache[directory] = self._render(directory)
        return copy.deepcopy(self._cache[directory])

    def build_with_patch(self, base: Path, patch_file: Path) -> list[dict[str, Any]]:
        """The base with one patch file applied by kustomize, to check that patch on its own."""
        with tempfile.TemporaryDirectory() as scratch:
            directory = Path(scratch)
            shutil.copy(patch_file, directory / patch_file.name)
            kustomization = {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                # kustomize takes a directory resource by relative path only.
                "resources": [os.path.relpath(base.resolve(), directory.resolve())],
                "patches": [{"path": patch_file.name}],
            }
            (directory / "kustomization.yaml").write_text(yaml.safe_dump(kustomization))
            return self._render(directory)

    def _render(self, directory: Path) -> list[dict[str, Any]]:
        result = subprocess.run(  # noqa: S603 - the pinned binary on our own manifests
            [str(self.binary), "build", str(directory)],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"kustomize build {directory}:\n{result.stderr}"
        return [doc for doc in yaml.safe_load_all(result.stdout) if doc]
