"""`erase`: remove everything stored for one user (GDPR Art. 17), audited, announced downstream.

Runs the same use case as an erasure request on the input topic (service/privacy/erasure.py):
the user's data key destroyed first (its own transaction), then one transaction under the
user's row lock, an audit row naming `--actor` (else the OS user),
and `onboarding.user.erased` queued in the outbox (the running service's relay publishes it).
Prints the rows deleted per table; never a value of them.
"""

from __future__ import annotations

import argparse
import asyncio
import uuid
from typing import Any

from service.tools.common import (
    ALICE_KEY_PLACEHOLDER,
    EXIT_OK,
    EXIT_USAGE,
    ToolFailed,
    guarded,
    load_settings,
)
from service.tools.database_io import tool_data_keys, with_database


@guarded
def cmd_erase(args: argparse.Namespace) -> int:
    """Erase a user: every stored row, audited; publishes onboarding.user.erased."""
    from service.errors import InvalidUserId  # noqa: PLC0415
    from service.privacy.actor import operator  # noqa: PLC0415
    from service.privacy.erasure import Erasure, ErasureRequest  # noqa: PLC0415
    from service.privacy.predicates import canonical  # noqa: PLC0415

    try:
        user_id = canonical(args.user_id)
    except InvalidUserId:
        raise ToolFailed("USER_ID is not a UUID", EXIT_USAGE) from None
    settings = load_settings(need_alice=False)
    if (
        settings.erasure_delete_in_alice
        and settings.alice_api_key.get_secret_value() == ALICE_KEY_PLACEHOLDER
    ):
        raise ToolFailed("ERASURE_DELETE_IN_ALICE=true needs ALICE_API_KEY", EXIT_USAGE)
    request = ErasureRequest(
        user_id=user_id,
        request_id=f"cli:{uuid.uuid4()}",
        actor=operator(args.actor),
        reason=args.reason,
    )

    data_keys = tool_data_keys(settings)

    async def run(database: Any) -> Any:
        alice = None
        if settings.erasure_delete_in_alice:
            from service.alice import AliceClient  # noqa: PLC0415

            alice = AliceClient.from_settings(settings)
        try:
            erasure = Erasure(
                database=database,
                output_topic=settings.kafka_output_topic,
                alice=alice,
                key_shredder=data_keys,
            )
            return await erasure.erase(request)
        finally:
            if alice is not None:
                await alice.aclose()

    erased = asyncio.run(with_database(settings, run))
    deleted = ", ".join(f"{table}={count}" for table, count in erased.counts.items())
    print(f"erased user {user_id}: request {request.request_id}; deleted {deleted}")
    print(f"queued onboarding.user.erased (ce_id {erased.notice_id})")
    return EXIT_OK


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `erase` command."""
    parser = commands.add_parser("erase", help=cmd_erase.__doc__, description=__doc__)
    parser.add_argument("user_id", metavar="USER_ID", help="the Alice user id (UUID)")
    parser.add_argument("--reason", help="why (kept in the audit row)")
    parser.add_argument("--actor", help="who asks (default: the OS user)")
    parser.set_defaults(func=cmd_erase)
