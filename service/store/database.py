"""The PostgreSQL connection pool (SQLAlchemy's async engine over asyncpg) and error translation.

Everything that talks to PostgreSQL goes through `Database.transaction()`, which turns driver
and SQLAlchemy errors into the service's own: `StorageUnavailable` (transient: connection lost,
server shutting down, serialization failure, deadlock, timeout) or `StorageRejected` (permanent:
the data itself was refused).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from service.errors import StorageRejected, StorageUnavailable
from service.settings import Settings

# SQLSTATE classes that mean "try again": connection exceptions (08), insufficient resources
# (53), operator intervention such as shutdown (57), system errors (58), and the two
# concurrency failures (40001 serialization, 40P01 deadlock).
_TRANSIENT_SQLSTATE_PREFIXES = ("08", "53", "57", "58", "40001", "40P01", "55P03")


def _sqlstate(error: BaseException) -> str | None:
    for candidate in (error, getattr(error, "orig", None), error.__cause__):
        code = getattr(candidate, "sqlstate", None) or getattr(candidate, "pgcode", None)
        if isinstance(code, str):
            return code
    return None


def translate(error: BaseException) -> StorageUnavailable | StorageRejected:
    """Classify a database failure; the reason names its class, never the data."""
    state = _sqlstate(error)
    name = type(getattr(error, "orig", None) or error).__name__
    if isinstance(error, (OSError, TimeoutError, asyncpg.InterfaceError)):
        return StorageUnavailable(f"database unavailable: {name}")
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return StorageUnavailable(f"database connection lost: {name}")
    if state is None or state.startswith(_TRANSIENT_SQLSTATE_PREFIXES):
        return StorageUnavailable(f"database unavailable: {name} ({state or 'no sqlstate'})")
    return StorageRejected(f"database refused the data: {name} ({state})")


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


class Database:
    """The pool, and transactions whose failures arrive as the service's own errors."""

    def __init__(self, *, engine: AsyncEngine) -> None:
        self.engine = engine

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
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """A connection inside one transaction: commit on success, roll back on error."""
        try:
            async with self.engine.begin() as connection:
                yield connection
        except (sa_exc.SQLAlchemyError, asyncpg.PostgresError, OSError, TimeoutError) as exc:
            raise translate(exc) from exc

    async def ping(self) -> None:
        """Raise StorageUnavailable unless the server answers a trivial query."""
        async with self.transaction() as connection:
            await connection.execute(text("SELECT 1"))

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
