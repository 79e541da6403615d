"""`seal-legacy`: seal the rows written in clear before migration 0006, batch by batch.

Snapshots and user events stored before crypto-shredding keep their report or event as clear
JSONB, which erasure can delete but a backup keeps readable. This moves each into its sealed
column under the user's data key (created if the user has none) and clears the JSONB: the
snapshot's body becomes `{"report": ...}` as re-serialised from the JSONB (the bytes Alice
sent are gone; the reader returns the same report object). Each batch is one short
transaction that locks its rows; rows already sealed are never selected again, so the command
is idempotent and may be interrupted. One audit row per run records the counts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Final

from sqlalchemy import text

from service.crypto.cipher import EVENT, REPORT, seal
from service.crypto.datakeys import DataKeys
from service.privacy import audit
from service.store.database import Database

LEGACY_BATCH: Final = 200
SEAL_LEGACY: Final = "seal-legacy"

# Table -> (key column, clear column, sealed column, where the sealed value is stored).
_TABLES: Final = {
    "report_snapshots": ("id", "report", "report_sealed", REPORT),
    "user_events": ("event_id", "event", "event_sealed", EVENT),
}


@dataclass(frozen=True, slots=True)
class Sealed:
    """Rows sealed per table by one run."""

    counts: dict[str, int]


def _plaintext(table: str, value: object) -> bytes:
    document = json.loads(value) if isinstance(value, str) else value
    if table == "report_snapshots":
        document = {"report": document}  # what Alice sends, as the reader expects
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()


async def seal_legacy(
    database: Database,
    data_keys: DataKeys,
    *,
    actor: str,
    request_id: str,
    batch_size: int = LEGACY_BATCH,
) -> Sealed:
    """Seal every clear snapshot report and user event; append the run's audit row."""
    counts = {}
    for table, (key, clear, sealed, place) in _TABLES.items():
        select = text(
            f"SELECT {key}, user_id::text, {clear} FROM {table}"  # noqa: S608 - fixed names
            f" WHERE {clear} IS NOT NULL AND {sealed} IS NULL AND {key} > :after"
            f" ORDER BY {key} LIMIT :n FOR UPDATE"
        )
        update = text(
            f"UPDATE {table} SET {sealed} = x.s, {clear} = NULL FROM unnest("  # noqa: S608
            f"CAST(:k AS {'bigint' if key == 'id' else 'text'}[]), CAST(:s AS bytea[]))"
            f" AS x(k, s) WHERE {table}.{key} = x.k"
        )
        done = 0
        # Keyset pagination: each batch starts after the last key sealed, never rescanning
        # the rows already done (a batch's cost stays that of its own rows).
        after: int | str = 0 if key == "id" else ""
        while True:
            async with database.transaction() as connection:
                rows = (await connection.execute(select, {"n": batch_size, "after": after})).all()
                if not rows:
                    break
                after = rows[-1][0]
                keys = await data_keys.get_or_create(connection, {r[1] for r in rows})
                values = [
                    seal(keys[user_id], user_id, place, _plaintext(table, value))
                    for _, user_id, value in rows
                ]
                await connection.execute(update, {"k": [r[0] for r in rows], "s": values})
            done += len(rows)
        counts[table] = done
    async with database.transaction() as connection:
        await audit.record(
            connection,
            audit.AuditEntry(action=SEAL_LEGACY, actor=actor, request_id=request_id, counts=counts),
        )
    return Sealed(counts)
