"""Who runs an operator command: `--actor NAME`, else the operating-system user."""

from __future__ import annotations

import getpass


def operator(given: str | None) -> str:
    """The actor recorded in the audit row: the given name, else the OS user, else `unknown`."""
    if given and given.strip():
        return given.strip()
    try:
        return f"os:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return "unknown"
