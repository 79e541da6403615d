"""`retention`: count (`--dry-run`) or delete (`--apply`) the personal data past its retention.

The same rules as the service's periodic task (service/privacy/retention.py); prints one line
per table with its count. The CronJob in deploy/k8s/base runs `retention --apply`.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from service.tools.common import EXIT_OK, guarded, load_settings
from service.tools.database_io import with_database


@guarded
def cmd_retention(args: argparse.Namespace) -> int:
    """Count (--dry-run) or delete (--apply) rows past their retention, per table."""
    from service.app import retention_policy  # noqa: PLC0415
    from service.privacy.retention import count_due, delete_due  # noqa: PLC0415

    settings = load_settings(need_alice=False)
    policy = retention_policy(settings)

    async def run(database: Any) -> dict[str, int]:
        if args.apply:
            return await delete_due(database, policy)
        return await count_due(database, policy)

    counts = asyncio.run(with_database(settings, run))
    verb = "deleted" if args.apply else "due (dry run, nothing deleted)"
    for table, count in counts.items():
        print(f"{table}: {count} {verb}")
    return EXIT_OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `retention` command."""
    parser = commands.add_parser("retention", help=cmd_retention.__doc__, description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--dry-run", action="store_true", help="count what is due")
    mode.add_argument("--apply", action="store_true", help="delete what is due")
    parser.set_defaults(func=cmd_retention)
