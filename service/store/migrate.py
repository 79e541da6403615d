"""Apply and inspect the Alembic migrations from the service (no alembic.ini needed)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory


def _script_location() -> str:
    """Where the migrations are: MIGRATIONS_DIR, beside the package, or ./migrations."""
    override = os.environ.get("MIGRATIONS_DIR")
    if override:
        return override
    beside = Path(__file__).resolve().parents[2] / "migrations"
    return str(beside if beside.is_dir() else Path.cwd() / "migrations")


def alembic_config(url: str) -> Config:
    """An Alembic configuration for the given database URL."""
    config = Config()
    config.set_main_option("script_location", _script_location())
    config.attributes["url"] = url
    return config


def upgrade_to_head(url: str, *, connect_args: dict[str, Any] | None = None) -> None:
    """Apply every migration not yet applied (blocking: call it off the event loop)."""
    config = alembic_config(url)
    config.attributes["connect_args"] = connect_args or {}
    command.upgrade(config, "head")


def head_revision() -> str | None:
    """The newest revision the code knows."""
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()
