"""Operator tools of `python -m service`: check-config, replay-dlq, backfill, and the personal-data
commands erase, export, retention, audit, rotate-keys and seal-legacy.

Each command lives in its own module and adds itself to the CLI through `register`. Exit codes
follow service.cli: 0 success, 1 the work failed (or a check failed), 2 bad arguments or
settings. Failures print one line (`error: ...`), never a traceback, never a secret.
"""

from __future__ import annotations

import argparse

from service.tools import (
    audit,
    backfill,
    check_config,
    erase,
    export,
    replay,
    retention,
    rotate_keys,
    seal_legacy,
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the operator commands to the CLI's sub-command parsers."""
    check_config.register(commands)
    replay.register(commands)
    backfill.register(commands)
    erase.register(commands)
    export.register(commands)
    retention.register(commands)
    audit.register(commands)
    rotate_keys.register(commands)
    seal_legacy.register(commands)
