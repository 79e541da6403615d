"""The one place stored personal values are decrypted: `Unsealer`.

Every reader of report bodies, user events or quarantined inputs goes through here (subject
access export, the per-user history, operator tools, tests): it loads the users' data keys in
the caller's transaction and opens each sealed column, or reads the clear JSONB of rows written
before migration 0006. A value whose key was shredded (an erased user), is wrapped by a KEK not
in ENCRYPTION_KEYS, or whose bytes were altered raises `UnreadableData`.

    unsealer = Unsealer(data_keys)
    async with database.transaction() as connection:
        rows = (await connection.execute(text("SELECT * FROM report_snapshots ..."))).mappings()
        reports = await unsealer.snapshot_reports(connection, list(rows))
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.ext.asyncio import AsyncConnection

from service.crypto.cipher import EVENT, QUARANTINE_BODY, QUARANTINE_INPUT, REPORT, open_sealed
from service.crypto.datakeys import DataKeys
from service.errors import UnreadableData

Row = Mapping[str, Any]


def _json(value: Any) -> Any:
    # SQLAlchemy returns JSONB decoded; raw asyncpg returns its text.
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def _key(keys: Mapping[str, AESGCM], user_id: Any) -> AESGCM:
    key = keys.get(str(user_id))
    if key is None:
        raise UnreadableData("the user's data key is gone (erased) or was never stored")
    return key


def report_of(row: Row, keys: Mapping[str, AESGCM]) -> dict[str, Any]:
    """A snapshot row's report object (the `report` of the stored response body)."""
    sealed = row["report_sealed"]
    if sealed is None:
        return dict(_json(row["report"]))  # written before migration 0006
    user_id = str(row["user_id"])
    body = open_sealed(_key(keys, user_id), user_id, REPORT, bytes(sealed))
    return dict(json.loads(body)["report"])


def event_of(row: Row, keys: Mapping[str, AESGCM]) -> dict[str, Any]:
    """A user_events row's event object."""
    sealed = row["event_sealed"]
    if sealed is None:
        return dict(_json(row["event"]))
    user_id = str(row["user_id"])
    return dict(json.loads(open_sealed(_key(keys, user_id), user_id, EVENT, bytes(sealed))))


def quarantined_of(row: Row, keys: Mapping[str, AESGCM]) -> tuple[bytes | None, bytes | None]:
    """A quarantine row's input value and report body, as received."""
    value, body = row["input_value"], row["report_body"]
    value = None if value is None else bytes(value)
    body = None if body is None else bytes(body)
    owner = row["sealed_for"]
    if owner is None:
        return value, body
    user_id = str(owner)
    key = _key(keys, user_id)
    return (
        None if value is None else open_sealed(key, user_id, QUARANTINE_INPUT, value),
        None if body is None else open_sealed(key, user_id, QUARANTINE_BODY, body),
    )


def _owner(table: str, row: Row) -> str | None:
    owner = row.get("sealed_for") if table == "quarantine" else row.get("user_id")
    return None if owner is None else str(owner)


class Unsealer:
    """Decrypts stored rows, loading their users' data keys in the caller's transaction."""

    def __init__(self, data_keys: DataKeys) -> None:
        self._data_keys = data_keys

    async def keys(self, connection: AsyncConnection, rows: Sequence[Row]) -> dict[str, AESGCM]:
        """The data keys of these rows' users (absent when shredded)."""
        owners = {o for o in (r.get("sealed_for", r.get("user_id")) for r in rows) if o}
        return await self._data_keys.load(connection, [str(o) for o in owners])

    async def snapshot_reports(
        self, connection: AsyncConnection, rows: Sequence[Row]
    ) -> list[dict[str, Any]]:
        """The report object of each snapshot row (needs `user_id`, `report`, `report_sealed`)."""
        keys = await self.keys(connection, rows)
        return [report_of(row, keys) for row in rows]

    async def snapshot_report(self, connection: AsyncConnection, row: Row) -> dict[str, Any]:
        """The report object of one snapshot row."""
        return (await self.snapshot_reports(connection, [row]))[0]

    async def user_events(
        self, connection: AsyncConnection, rows: Sequence[Row]
    ) -> list[dict[str, Any]]:
        """The event object of each user_events row (`user_id`, `event`, `event_sealed`)."""
        keys = await self.keys(connection, rows)
        return [event_of(row, keys) for row in rows]

    async def quarantined(
        self, connection: AsyncConnection, rows: Sequence[Row]
    ) -> list[tuple[bytes | None, bytes | None]]:
        """The (input value, report body) of each quarantine row, as received."""
        keys = await self.keys(connection, rows)
        return [quarantined_of(row, keys) for row in rows]

    async def open_rows(
        self, connection: AsyncConnection, table: str, rows: Sequence[Row]
    ) -> list[dict[str, Any]]:
        """Rows of any table with their sealed columns replaced by the clear values (for an
        export); a value that does not open becomes `{"unreadable": reason}`."""
        keys = await self._data_keys.load(
            connection, [o for o in (_owner(table, r) for r in rows) if o]
        )
        return [self._open_row(table, dict(row), keys) for row in rows]

    def _open_row(
        self, table: str, row: dict[str, Any], keys: Mapping[str, AESGCM]
    ) -> dict[str, Any]:
        try:
            if table == "report_snapshots":
                row["report"] = report_of(row, keys)
                row.pop("report_sealed", None)
            elif table == "user_events":
                row["event"] = event_of(row, keys)
                row.pop("event_sealed", None)
            elif table == "quarantine":
                row["input_value"], row["report_body"] = quarantined_of(row, keys)
            elif table == "data_keys":
                row.pop("wrapped", None)  # key material, of no use to anyone outside
        except UnreadableData as unreadable:
            for column in ("report_sealed", "event_sealed", "input_value", "report_body"):
                if row.get(column) is not None:
                    row[column] = {"unreadable": unreadable.reason}
        return row
