"""`seal-legacy`: encrypt the snapshots and user events stored in clear before migration 0006
(service/crypto/legacy.py). Run once after upgrading; idempotent, audited, prints counts only.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from typing import Any

from service.tools.common import EXIT_OK, guarded, load_settings
from service.tools.database_io import tool_data_keys, with_database


@guarded
def cmd_seal_legacy(args: argparse.Namespace) -> int:
    """Encrypt the snapshots and user events stored in clear before migration 0006; audited."""
    from service.crypto.legacy import seal_legacy  # noqa: PLC0415
    from service.privacy.actor import operator  # noqa: PLC0415

    settings = load_settings(need_alice=False)
    data_keys = tool_data_keys(settings)
    request_id = f"cli:{uuid.uuid4()}"

    async def run(database: Any) -> Any:
        return await seal_legacy(
            database,
            data_keys,
            actor=operator(args.actor),
            request_id=request_id,
            batch_size=args.batch,
        )

    sealed = asyncio.run(with_database(settings, run))
    for table, count in sealed.counts.items():
        print(f"{table}: {count} sealed")
    return EXIT_OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `seal-legacy` command."""
    parser = commands.add_parser("seal-legacy", help=cmd_seal_legacy.__doc__, description=__doc__)
    parser.add_argument("--actor", help="who runs it (default: the OS user)")
    parser.add_argument("--batch", type=int, default=200, help="rows per transaction")
    parser.set_defaults(func=cmd_seal_legacy)
