"""The PostgreSQL connection pool (SQLAlchemy's async engine over asyncpg) and error translation.

Everything that talks to PostgreSQL goes through `Database.transaction()`, which turns driver
and SQLAlchemy errors into the service's own, by who is at fault (`translate`):
- `StorageRejected` (permanent, dead-lettered): the message's own data, which fails the same
  way on any database: data exceptions (class 22), a NULL or a value a CHECK or an exclusion
  refuses (23502, 23514, 23P01), a value beyond a limit such as an index row (54000);
- `StorageOutage` (transient, never counted, never dead-lettered): nobody's writes can
  succeed: connection (08) and authentication (28, e.g. a rotated password) failures,
  read-only transactions after a failover (25006), missing privileges (42501), the code ahead
  of the schema or any other class 42 error (the statements are the service's, the data only
  bound parameters), resources (53), operator intervention (57, e.g. shutdown), system (58),
  corrupted data or indexes (XX001/XX002), an unknown database or schema (3D/3F);
- `StorageUnavailable` (transient, counted when the message fails alone): races and
  contention the next attempt may not meet (40001, 40P01, 55P03, a statement timeout 57014,
  a unique violation 23505, which with our `ON CONFLICT` statements can only be a race, a
  foreign key 23503), and every SQLSTATE not listed. An unknown code is retried rather than
  dead-lettered, as losing a valid message is the worst outcome; the processor counts an
  attempt only while the database works for other messages, so a code that hits everyone
  waits like an outage, and one that a single message keeps meeting alone ends, after
  TRANSIENT_MAX_ATTEMPTS, in the dead-letter topic with its reason (the message is then,
  evidently, the cause).

While outages last, `outage()` names the last one (readiness reports it); a transaction
opened with `write=True` that commits ends it.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from service.errors import StorageOutage, StorageRejected, StorageUnavailable
from service.settings import Settings

_PERMANENT_PREFIXES = ("22", "23502", "23514", "23P01", "54000")
_OUTAGE_PREFIXES = (
    "08", "28", "25006", "42", "53", "57P", "58", "3D", "3F", "XX001", "XX002"
)  # fmt: skip


def _sqlstate(error: BaseException) -> str | None:
    for candidate in (error, getattr(error, "orig", None), error.__cause__):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def translate(error: BaseException) -> StorageUnavailable | StorageRejected:
    """Classify a database failure (see the module docstring); the reason never names data."""
    state = _sqlstate(error)
    name = type(getattr(error, "orig", None) or error).__name__
    if state is not None:
        if state.startswith(_PERMANENT_PREFIXES):
            return StorageRejected(f"database refused the data: {name} ({state})")
        if state.startswith(_OUTAGE_PREFIXES) or state == "57000":
            return StorageOutage(f"database outage: {name} ({state})")
        return StorageUnavailable(f"database failure, retrying: {name} ({state})")
    if isinstance(error, (OSError, TimeoutError)) or (
        isinstance(error, asyncpg.InterfaceError) and not isinstance(error, ValueError)
    ):
        return StorageOutage(f"database unreachable: {name}")
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return StorageOutage(f"database connection lost: {name}")
    return StorageUnavailable(f"database failure, retrying: {name} (no sqlstate)")


def connect_args(settings: Settings) -> dict[str, Any]:
    """asyncpg connection arguments: statement timeout, and TLS when configured."""
    args: dict[str, Any] = {
        "server_settings": {
            "statement_timeout": str(settings.database_statement_timeout_ms),
            "application_name": settings.kafka_client_id,
        },
        "command_timeout": settings.database_statement_timeout_ms / 1000 + 5,
    }
    mode = settings.database_sslmode
    if mode in ("require", "verify-ca", "verify-full"):
        context = ssl.create_default_context(cafile=settings.database_ssl_rootcert)
        if mode == "require":
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif mode == "verify-ca":
            context.check_hostname = False
        args["ssl"] = context
    elif mode in ("disable", "prefer"):
        args["ssl"] = mode
    return args


_WRITABLE = "SELECT current_setting('transaction_read_only') = 'off' AND NOT pg_is_in_recovery()"


class Database:
    """The pool, and transactions whose failures arrive as the service's own errors."""

    def __init__(self, *, engine: AsyncEngine) -> None:
        self.engine = engine
        self._outage: tuple[str, float] | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Database:
        """One pool per process, sized by DATABASE_POOL_SIZE."""
        engine = create_async_engine(
            settings.database_url.get_secret_value(),
            pool_size=settings.database_pool_size,
            max_overflow=2,
            pool_pre_ping=True,
            pool_recycle=1800,
            connect_args=connect_args(settings),
            # A statement's bound values are report data (names, document numbers): an error's
            # text must never carry them into a log line or a dead letter.
            hide_parameters=True,
        )
        return cls(engine=engine)

    @asynccontextmanager
    async def transaction(self, *, write: bool = False) -> AsyncIterator[AsyncConnection]:
        """A connection inside one transaction: commit on success, roll back on error.

        A failure that is an outage is remembered for readiness; a committed transaction that
        wrote (`write=True`: a read-only probe proves nothing about writes) ends the outage.
        """
        try:
            async with self.engine.begin() as connection:
                yield connection
        except (sa_exc.SQLAlchemyError, asyncpg.PostgresError, OSError, TimeoutError) as exc:
            error = translate(exc)
            if isinstance(error, StorageOutage):
                self._outage = (error.reason, time.monotonic())
            raise error from exc
        if write:
            self._outage = None

    def outage(self, *, within_s: float) -> str | None:
        """The last outage met within `within_s` seconds and not ended by a write since."""
        if self._outage is None:
            return None
        reason, at = self._outage
        return reason if time.monotonic() - at <= within_s else None

    async def ping(self) -> None:
        """Raise StorageUnavailable unless the server answers a trivial query."""
        async with self.transaction() as connection:
            await connection.execute(text("SELECT 1"))

    async def writable(self) -> bool:
        """Whether the server answers and would accept a write: not read-only (as after a
        failover, or `default_transaction_read_only`), not a standby. Raises StorageUnavailable
        when it does not answer."""
        async with self.transaction() as connection:
            result = await connection.execute(text(_WRITABLE))
            return bool(result.scalar())

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
