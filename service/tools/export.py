"""`export`: everything held on one user as JSON (GDPR Art. 15/20), with an audit row.

Writes to `--out FILE` (created with mode 0600: it holds personal data) or to stdout. The
document lists the user's rows of every table, decrypted (service/privacy/export.py); it needs
the service's ENCRYPTION_KEYS.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import uuid
from typing import Any

from service.tools.common import EXIT_OK, EXIT_USAGE, ToolFailed, guarded, load_settings
from service.tools.database_io import tool_data_keys, with_database


@guarded
def cmd_export(args: argparse.Namespace) -> int:
    """Export everything held on a user as JSON; audited."""
    from service.crypto import Unsealer  # noqa: PLC0415
    from service.errors import InvalidUserId  # noqa: PLC0415
    from service.privacy.actor import operator  # noqa: PLC0415
    from service.privacy.export import export_user  # noqa: PLC0415
    from service.privacy.predicates import canonical  # noqa: PLC0415

    try:
        user_id = canonical(args.user_id)
    except InvalidUserId:
        raise ToolFailed("USER_ID is not a UUID", EXIT_USAGE) from None
    settings = load_settings(need_alice=False)
    request_id = f"cli:{uuid.uuid4()}"

    unsealer = Unsealer(tool_data_keys(settings))

    async def run(database: Any) -> dict[str, Any]:
        return await export_user(
            database, user_id, actor=operator(args.actor), request_id=request_id, unsealer=unsealer
        )

    document = asyncio.run(with_database(settings, run))
    text = json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True)
    if args.out:
        try:
            descriptor = os.open(args.out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as out:
                out.write(text + "\n")
        except OSError as exc:
            raise ToolFailed(f"cannot write {args.out}: {exc.strerror or exc}") from None
        rows = sum(len(r) for r in document["tables"].values())
        print(f"exported {rows} row(s) of user {user_id} to {args.out} (request {request_id})")
    else:
        sys.stdout.write(text + "\n")
    return EXIT_OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `export` command."""
    parser = commands.add_parser("export", help=cmd_export.__doc__, description=__doc__)
    parser.add_argument("user_id", metavar="USER_ID", help="the Alice user id (UUID)")
    parser.add_argument("--actor", help="who asks (default: the OS user)")
    parser.add_argument("--out", metavar="FILE", help="write here (mode 0600), not to stdout")
    parser.set_defaults(func=cmd_export)
