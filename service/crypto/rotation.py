"""`rotate-keys`: re-wrap every data key under the active KEK; the data rows are not touched.

After a new KEK is added as the last entry of ENCRYPTION_KEYS, this moves every wrapped data key
to it, batch by batch (each batch its own short transaction, rows locked in user-id order, as the
ingest path locks them), so that the old KEK can then be removed from ENCRYPTION_KEYS. Only keys
wrapped by another KEK are read: a second run finds nothing to do (idempotent). A key that does
not unwrap (its KEK is no longer configured, or it was altered) is counted and left as it is.
One audit row per run records the counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import text

from service.crypto.keyring import Keyring
from service.errors import UnreadableData
from service.privacy import audit
from service.store.database import Database

ROTATION_BATCH: Final = 500

_NEXT: Final = text(
    "SELECT user_id, kek_id, wrapped FROM data_keys WHERE kek_id <> :active"
    " AND user_id > CAST(:after AS uuid) ORDER BY user_id LIMIT :n FOR UPDATE"
)
_REWRAP: Final = text(
    "UPDATE data_keys SET kek_id = x.k, wrapped = x.w FROM unnest(CAST(:u AS uuid[]),"
    " CAST(:k AS text[]), CAST(:w AS bytea[])) AS x(u, k, w) WHERE data_keys.user_id = x.u"
)
_FIRST_UUID: Final = "00000000-0000-0000-0000-000000000000"


@dataclass(frozen=True, slots=True)
class Rotated:
    """What a run did: keys re-wrapped, keys that did not unwrap, the KEK now active."""

    rewrapped: int
    unreadable: int
    active_kek: str


async def rotate_keys(
    database: Database,
    keyring: Keyring,
    *,
    actor: str,
    request_id: str,
    batch_size: int = ROTATION_BATCH,
) -> Rotated:
    """Re-wrap every data key not under the active KEK; append the run's audit row."""
    rewrapped = unreadable = 0
    after = _FIRST_UUID
    while True:
        async with database.transaction() as connection:
            rows = (
                await connection.execute(
                    _NEXT, {"active": keyring.active_id, "after": after, "n": batch_size}
                )
            ).all()
            if not rows:
                break
            after = str(rows[-1][0])
            users, keks, wrapped = [], [], []
            for user_id, kek_id, old in rows:
                try:
                    data_key = keyring.unwrap(str(user_id), kek_id, bytes(old))
                except UnreadableData:
                    unreadable += 1
                    continue
                new_kek, new_wrapped = keyring.wrap(str(user_id), data_key)
                users.append(str(user_id))
                keks.append(new_kek)
                wrapped.append(new_wrapped)
            if users:
                await connection.execute(_REWRAP, {"u": users, "k": keks, "w": wrapped})
            rewrapped += len(users)
    counts = {"rewrapped": rewrapped, "unreadable": unreadable}
    async with database.transaction() as connection:
        await audit.record(
            connection,
            audit.AuditEntry(
                action=audit.ROTATE_KEYS,
                actor=actor,
                request_id=request_id,
                reason=f"active KEK {keyring.active_id}",
                counts=counts,
            ),
        )
    return Rotated(rewrapped, unreadable, keyring.active_id)
