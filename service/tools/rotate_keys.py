"""`rotate-keys`: re-wrap every user's data key under the newest KEK (service/crypto/rotation.py).

Run after adding a new KEK as the last entry of ENCRYPTION_KEYS (and rolling the service out
with it); when it reports no unreadable key, the old KEK may be removed. Audited; idempotent;
prints counts only.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from typing import Any

from service.tools.common import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    ToolFailed,
    guarded,
    load_settings,
)
from service.tools.database_io import with_database


@guarded
def cmd_rotate_keys(args: argparse.Namespace) -> int:
    """Re-wrap every data key under the newest KEK of ENCRYPTION_KEYS; audited."""
    from service.crypto.keyring import Keyring, KeysMissing  # noqa: PLC0415
    from service.crypto.rotation import rotate_keys  # noqa: PLC0415
    from service.privacy.actor import operator  # noqa: PLC0415

    settings = load_settings(need_alice=False)
    try:
        keyring = Keyring.from_settings(settings)
    except KeysMissing as missing:
        raise ToolFailed(str(missing), EXIT_USAGE) from None
    request_id = f"cli:{uuid.uuid4()}"

    async def run(database: Any) -> Any:
        return await rotate_keys(
            database,
            keyring,
            actor=operator(args.actor),
            request_id=request_id,
            batch_size=args.batch,
        )

    rotated = asyncio.run(with_database(settings, run))
    print(
        f"re-wrapped {rotated.rewrapped} data key(s) under KEK {rotated.active_kek}; "
        f"{rotated.unreadable} did not unwrap (request {request_id})"
    )
    return EXIT_FAILED if rotated.unreadable else EXIT_OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `rotate-keys` command."""
    parser = commands.add_parser("rotate-keys", help=cmd_rotate_keys.__doc__, description=__doc__)
    parser.add_argument("--actor", help="who runs it (default: the OS user)")
    parser.add_argument("--batch", type=int, default=500, help="keys per transaction (default 500)")
    parser.set_defaults(func=cmd_rotate_keys)
