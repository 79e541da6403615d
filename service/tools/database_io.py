"""What the personal-data tools share: a database for one command, failures as one line, and
the audit row every operator tool writes (erase, export, replay-dlq, backfill)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, TypeVar

from service.errors import IngestorError
from service.settings import Settings
from service.tools.common import EXIT_USAGE, ToolFailed

if TYPE_CHECKING:
    from service.crypto import DataKeys

T = TypeVar("T")


def tool_data_keys(settings: Settings) -> DataKeys:
    """The data keys under the settings' KEKs; ToolFailed (exit 2) in production without one."""
    from service.crypto import DataKeys, Keyring, KeysMissing  # noqa: PLC0415

    try:
        return DataKeys(Keyring.from_settings(settings), cache_size=16)
    except KeysMissing as missing:
        raise ToolFailed(str(missing), EXIT_USAGE) from None


async def with_database(settings: Settings, work: Callable[..., Awaitable[T]]) -> T:
    """Run `work(database)` with a pool of its own, closed afterwards; database errors become
    ToolFailed (exit 1) with the error's sanitised reason."""
    from service.store.database import Database  # noqa: PLC0415 - keep `--help` fast

    database = Database.from_settings(settings)
    try:
        return await work(database)
    except IngestorError as error:
        raise ToolFailed(f"{error.code}: {error.reason}") from None
    finally:
        await database.aclose()


async def audit_tool_run(
    settings: Settings,
    *,
    action: str,
    actor: str,
    request_id: str,
    counts: Mapping[str, int],
    reason: str | None = None,
) -> None:
    """Append the audit row of a tool run (its own transaction)."""
    from service.privacy import audit  # noqa: PLC0415
    from service.store.database import Database  # noqa: PLC0415

    async def write(database: Database) -> None:
        async with database.transaction() as connection:
            await audit.record(
                connection,
                audit.AuditEntry(
                    action=action,
                    actor=actor,
                    request_id=request_id,
                    reason=reason,
                    counts=counts,
                ),
            )

    try:
        await with_database(settings, write)
    except ToolFailed as failure:
        message = f"the work is done but its audit row was not written: {failure.message}"
        raise ToolFailed(message) from None
