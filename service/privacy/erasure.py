"""The erasure use case (GDPR Art. 17): remove everything stored for one user, in one transaction.

Asked for by `python -m service erase USER_ID` or by a message on the input topic. In order:
1. optionally, Alice's `DELETE /user` (ERASURE_DELETE_IN_ALICE; a 404 means already gone);
2. its own committed transaction: destroy the user's data key (the `KeyShredder`,
   service/crypto/datakeys.py). From then on every sealed value of the user in this database
   is unreadable, even if the next step never happens (a backup taken before keeps the wrapped
   key too: it becomes unreadable when its KEK is rotated out and destroyed; README);
3. one transaction: take the user's row lock (the one the ingest path takes, so a message in
   flight either commits before and is erased, or waits and meets the tombstone), delete the
   user's rows from every table (predicates.py; a key made meanwhile included), queue
   `onboarding.user.erased`
   through the outbox (deterministic id: same user and request, same `ce_id`), and append the
   audit row that is also the tombstone (tombstones.py).
Idempotent: erasing again finds nothing to delete and queues no second notice for one request.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.errors import AliceUserNotFound
from service.events.data import UserErased
from service.events.kafka import to_kafka
from service.messages import USER_ERASED, DerivedEvent, derived_event_id
from service.privacy import audit
from service.privacy.predicates import USER_ROWS, canonical, parameters
from service.privacy.tombstones import lock_erasure
from service.store import repository as repo
from service.store.database import Database
from service.store.repository import MessageRef, OutboxRow


class UserDeleter(Protocol):
    """Alice's `DELETE /user` (the Alice client)."""

    async def delete_user(self, user_id: str) -> None:
        """Delete the user and their data in Alice, or raise a `service.errors` exception."""
        ...


class KeyShredder(Protocol):
    """Crypto-shredding: destroy the user's data key, first, in a transaction of its own."""

    async def shred(self, connection: AsyncConnection, user_id: str) -> int:
        """Destroy the user's wrapped data key(s); how many were destroyed."""
        ...


@dataclass(frozen=True, slots=True)
class ErasureRequest:
    """Who asks to erase whom, and which request it is (a CLI run id or an input message id)."""

    user_id: str
    request_id: str
    actor: str
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Erased:
    """What an erasure did: rows deleted per table, the notice's id; or a duplicate request."""

    counts: dict[str, int]
    notice_id: str
    duplicate: bool = False


class Erasure:
    """Erases users from PostgreSQL (and, if configured, from Alice)."""

    def __init__(
        self,
        *,
        database: Database,
        output_topic: str,
        alice: UserDeleter | None = None,
        key_shredder: KeyShredder | None = None,
    ) -> None:
        self._database = database
        self._output_topic = output_topic
        self._alice = alice
        self._key_shredder = key_shredder

    async def erase(self, request: ErasureRequest, *, message: MessageRef | None = None) -> Erased:
        """Erase the user; `message` is the input message that asked (claimed in the inbox)."""
        user_id = canonical(request.user_id)
        notice_id = derived_event_id(user_id, USER_ERASED, request.request_id)
        if message is not None and await self._seen(message):
            return Erased({}, notice_id, duplicate=True)
        if self._alice is not None:
            with contextlib.suppress(AliceUserNotFound):  # already gone from Alice
                await self._alice.delete_user(user_id)
        shredded = 0
        if self._key_shredder is not None:
            async with self._database.transaction() as connection:
                shredded = await self._key_shredder.shred(connection, user_id)
        async with self._database.transaction() as connection:
            await lock_erasure(connection, user_id)  # the dead-letter path's side (tombstones.py)
            known = await _user_row_exists(connection, user_id)
            await repo.lock_users(connection, [user_id])  # creates the row when missing
            counts = await delete_user_rows(connection, user_id)
            counts["data_keys"] += shredded
            counts["users"] = min(counts["users"], int(known))  # not the row the lock made
            if message is not None:
                await _claim(connection, message)
            erased_at = datetime.now(UTC)
            await repo.write_changes(
                connection,
                snapshots=[],
                events=[],
                outbox=[self._notice(user_id, notice_id, erased_at)],
                users=[],
                outcomes=[],
            )
            await audit.record(
                connection,
                audit.AuditEntry(
                    action=audit.ERASE,
                    actor=request.actor,
                    subject=user_id,
                    request_id=request.request_id,
                    reason=request.reason,
                    counts=counts,
                ),
            )
        return Erased(counts, notice_id)

    async def _seen(self, message: MessageRef) -> bool:
        async with self._database.transaction() as connection:
            return bool(await repo.known_message_ids(connection, [_claim_id(message)]))

    def _notice(self, user_id: str, notice_id: str, erased_at: datetime) -> OutboxRow:
        event = DerivedEvent(
            id=notice_id,
            type=USER_ERASED,
            user_id=user_id,
            time=erased_at,
            data=UserErased(user_id=user_id, erased_at=erased_at).model_dump(mode="json"),
        )
        headers, payload = to_kafka(event)
        return OutboxRow(
            event_id=notice_id,
            topic=self._output_topic,
            key=user_id.encode(),
            headers=list(headers),
            payload=payload,
            event_type=USER_ERASED,
            user_id=user_id,
        )


async def delete_user_rows(connection: AsyncConnection, user_id: str) -> dict[str, int]:
    """Delete the user's rows from every table; the count per table."""
    counts = {}
    for table, (_, predicate) in USER_ROWS.items():
        result = await connection.execute(
            text(f"DELETE FROM {table} WHERE {predicate}"),  # noqa: S608 - fixed table names
            parameters(user_id),
        )
        counts[table] = int(getattr(result, "rowcount", 0) or 0)
    return counts


async def _user_row_exists(connection: AsyncConnection, user_id: str) -> bool:
    result = await connection.execute(
        text("SELECT EXISTS (SELECT 1 FROM users WHERE user_id = CAST(:u AS uuid))"),
        {"u": user_id},
    )
    return bool(result.scalar_one())


def _claim_id(message: MessageRef) -> str:
    # The request's own inbox row must not name the user: its id may embed the user id (as in
    # `backfill:<user id>:<run>`), so the inbox keeps a digest of it, the same on redelivery.
    return "erasure:" + hashlib.sha256(message.message_id.encode()).hexdigest()


async def _claim(connection: AsyncConnection, message: MessageRef) -> None:
    await connection.execute(
        text(
            'INSERT INTO inbox (message_id, topic, partition, "offset", user_id, outcome)'
            " VALUES (:m, :t, :p, :o, NULL, 'erased') ON CONFLICT (message_id) DO NOTHING"
        ),
        {"m": _claim_id(message), "t": message.topic, "p": message.partition, "o": message.offset},
    )
