"""Subject access (GDPR Art. 15/20): everything held on one user, as one JSON document.

The same predicates as erasure (predicates.py) select the rows, so an export shows exactly what
an erasure would remove, plus the audit rows about the user. Bytes become JSON when they are
JSON, text when they are UTF-8, `{"base64": ...}` otherwise; timestamps are ISO 8601. The export
and its audit row (counts per table) are read and written in one transaction. Sealed columns are
opened by `service.crypto.Unsealer` (report bodies, user events and quarantined inputs appear
decrypted; the wrapped data key itself is left out).
"""

from __future__ import annotations

import base64
import json
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.crypto import Unsealer
from service.privacy import audit
from service.privacy.predicates import USER_ROWS, canonical, parameters
from service.store.database import Database

FORMAT_VERSION = 1


def _bytes_value(value: bytes) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        pass
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(value).decode("ascii")}


def _json_value(value: Any) -> Any:
    if isinstance(value, (bytes, memoryview)):
        return _bytes_value(bytes(value))
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (Decimal, uuid.UUID)):
        return float(value) if isinstance(value, Decimal) else str(value)
    return value


async def user_rows(
    connection: AsyncConnection, user_id: str, unsealer: Unsealer
) -> dict[str, list[dict[str, Any]]]:
    """The user's rows of every table (and the audit rows about the user), decrypted and
    JSON-ready."""
    tables: dict[str, list[dict[str, Any]]] = {}
    queries = {
        table: (f"SELECT * FROM {table} WHERE {predicate} ORDER BY {order}")  # noqa: S608
        for table, (order, predicate) in USER_ROWS.items()
    }
    queries["privacy_audit"] = "SELECT * FROM privacy_audit WHERE subject = :user_id ORDER BY id"
    for table, sql in queries.items():
        result = await connection.execute(text(sql), parameters(user_id))
        rows = await unsealer.open_rows(connection, table, [dict(r) for r in result.mappings()])
        tables[table] = [{k: _json_value(v) for k, v in row.items()} for row in rows]
    return tables


async def export_user(
    database: Database, user_id: str, *, actor: str, request_id: str, unsealer: Unsealer
) -> dict[str, Any]:
    """The export document of the user; its audit row is recorded in the same transaction."""
    user_id = canonical(user_id)
    async with database.transaction() as connection:
        tables = await user_rows(connection, user_id, unsealer)
        await audit.record(
            connection,
            audit.AuditEntry(
                action=audit.EXPORT,
                actor=actor,
                subject=user_id,
                request_id=request_id,
                counts={table: len(rows) for table, rows in tables.items()},
            ),
        )
    return {"format_version": FORMAT_VERSION, "user_id": user_id, "tables": tables}
