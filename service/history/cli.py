"""`history USER_ID [--json] [--reveal]`: a user's timeline of snapshots, diffs and events.

Personal values are masked unless `--reveal`, which writes an audit row (`history_reveal`, with
the actor: `--actor` or the OS user) before anything is shown. Exit codes: 0 shown, 1 unknown
user or the database failed, 2 bad USER_ID or settings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from typing import Any

from service.tools.common import EXIT_OK, EXIT_USAGE, ToolFailed, guarded, load_settings
from service.tools.database_io import tool_data_keys, with_database


@guarded
def cmd_history(args: argparse.Namespace) -> int:
    """Show a user's timeline: each snapshot, why it was fetched, what changed, what it derived."""
    from service.errors import InvalidUserId  # noqa: PLC0415 - keep `--help` fast
    from service.history.query import user_history  # noqa: PLC0415
    from service.history.render import render_text  # noqa: PLC0415
    from service.privacy.actor import operator  # noqa: PLC0415
    from service.privacy.predicates import canonical  # noqa: PLC0415

    try:
        user_id = canonical(args.user_id)
    except InvalidUserId:
        raise ToolFailed("USER_ID is not a UUID", EXIT_USAGE) from None
    settings = load_settings(need_alice=False)
    data_keys = tool_data_keys(settings)
    request_id = f"cli:{uuid.uuid4()}"

    async def run(database: Any) -> dict[str, Any] | None:
        return await user_history(
            database,
            user_id,
            data_keys=data_keys,
            reveal=args.reveal,
            actor=operator(args.actor),
            request_id=request_id,
        )

    document = asyncio.run(with_database(settings, run))
    if document is None:
        raise ToolFailed(f"no such user: {user_id}")
    if args.json:
        sys.stdout.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(render_text(document) + "\n")
    return EXIT_OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `history` command."""
    parser = commands.add_parser("history", help=cmd_history.__doc__, description=__doc__)
    parser.add_argument("user_id", metavar="USER_ID", help="the Alice user id (UUID)")
    parser.add_argument("--json", action="store_true", help="print the JSON document")
    parser.add_argument(
        "--reveal", action="store_true", help="show personal values (writes an audit row)"
    )
    parser.add_argument("--actor", help="who asks (default: the OS user)")
    parser.set_defaults(func=cmd_history)
