"""`audit`: list the audit rows (erase, export, replay-dlq, backfill) recorded since a time.

One JSON object per line (what, when, actor, subject, request, reason, counts), oldest first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from service.tools.common import EXIT_OK, guarded, load_settings
from service.tools.database_io import with_database
from service.tools.dead_letters import iso_time


@guarded
def cmd_audit(args: argparse.Namespace) -> int:
    """List audit rows recorded since an ISO 8601 time."""
    from service.privacy.audit import AuditEntry, entries_since  # noqa: PLC0415

    settings = load_settings(need_alice=False)

    async def run(database: Any) -> list[AuditEntry]:
        async with database.transaction() as connection:
            return await entries_since(connection, args.since)

    for entry in asyncio.run(with_database(settings, run)):
        line = {
            "at": entry.at.isoformat() if entry.at else None,
            "action": entry.action,
            "actor": entry.actor,
            "subject": entry.subject,
            "request_id": entry.request_id,
            "reason": entry.reason,
            "counts": dict(entry.counts),
        }
        print(json.dumps(line, ensure_ascii=False, sort_keys=True))
    return EXIT_OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `audit` command."""
    parser = commands.add_parser("audit", help=cmd_audit.__doc__, description=__doc__)
    parser.add_argument(
        "--since",
        type=iso_time,
        required=True,
        metavar="TIME",
        help="ISO 8601 (UTC when no offset)",
    )
    parser.set_defaults(func=cmd_audit)
