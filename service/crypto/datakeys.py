"""Per-user data keys: the `data_keys` table and an in-process cache of unwrapped keys.

One random 32-byte data key per user, stored only wrapped (keyring.py) with its KEK's id.
Unwrapping costs an AES-GCM call, so unwrapped keys are kept in a bounded LRU, keyed by user and
validated by the wrapped bytes the caller read from the database in the same transaction: a
key shredded by an erasure (in this process or another) is never used from the cache, and a key
re-wrapped by `rotate-keys` is unwrapped once more. Creating keys is one statement for a batch
(`INSERT ... ON CONFLICT DO UPDATE ... RETURNING`): when two transactions race to create a
user's key, both get the one stored, never one of their own that was not kept.
"""

from __future__ import annotations

import contextlib
import os
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Final

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.crypto.keyring import KEY_BYTES, Keyring
from service.errors import UnreadableData

WrappedKey = tuple[str, bytes]  # (KEK id, wrapped data key)

_GET_OR_CREATE: Final = text(
    "INSERT INTO data_keys (user_id, kek_id, wrapped)"
    " SELECT u, k, w FROM unnest(CAST(:u AS uuid[]), CAST(:k AS text[]), CAST(:w AS bytea[]))"
    " AS x(u, k, w) ORDER BY u"
    # A no-op update, so that RETURNING gives the row kept when the key already exists.
    " ON CONFLICT (user_id) DO UPDATE SET kek_id = data_keys.kek_id"
    " RETURNING user_id, kek_id, wrapped"
)
_LOAD: Final = text(
    "SELECT user_id, kek_id, wrapped FROM data_keys WHERE user_id = ANY(CAST(:u AS uuid[]))"
)


class DataKeys:
    """Finds, creates and destroys users' data keys; caches the unwrapped ones."""

    def __init__(self, keyring: Keyring, *, cache_size: int = 10_000) -> None:
        self.keyring = keyring
        self._cache_size = cache_size
        self._cache: OrderedDict[str, tuple[bytes, AESGCM]] = OrderedDict()

    def cipher(self, user_id: str, wrapped_key: WrappedKey) -> AESGCM:
        """The user's data key as read from the database (unwrapped once, then cached)."""
        kek_id, wrapped = wrapped_key
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] == wrapped:
            self._cache.move_to_end(user_id)
            return cached[1]
        key = AESGCM(self.keyring.unwrap(user_id, kek_id, wrapped))
        self._cache[user_id] = (wrapped, key)
        self._cache.move_to_end(user_id)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return key

    async def load(self, connection: AsyncConnection, user_ids: Iterable[str]) -> dict[str, AESGCM]:
        """The users' keys; a user without one (never stored, or erased) is absent."""
        wanted = sorted(set(user_ids))
        if not wanted:
            return {}
        result = await connection.execute(_LOAD, {"u": wanted})
        return {str(u): self.cipher(str(u), (k, bytes(w))) for u, k, w in result}

    async def for_writing(
        self, connection: AsyncConnection, stored: Mapping[str, WrappedKey | None]
    ) -> dict[str, AESGCM]:
        """Keys to seal new values with: `stored` is what the caller read in this transaction
        (under the user's lock); the users without a key get one, in one statement. A user
        whose stored key does not unwrap (its KEK is no longer configured) is left out: the
        caller fails that user's messages alone."""
        keys = {}
        for user_id, wrapped in stored.items():
            if wrapped is not None:
                with contextlib.suppress(UnreadableData):
                    keys[user_id] = self.cipher(user_id, wrapped)
        missing = [u for u, w in stored.items() if w is None]
        if missing:
            keys.update(await self.get_or_create(connection, missing))
        return keys

    async def get_or_create(
        self, connection: AsyncConnection, user_ids: Iterable[str]
    ) -> dict[str, AESGCM]:
        """Each user's stored key, created where there is none."""
        wanted = sorted(set(user_ids))
        if not wanted:
            return {}
        wrapped = [self.keyring.wrap(u, os.urandom(KEY_BYTES)) for u in wanted]
        result = await connection.execute(
            _GET_OR_CREATE,
            {"u": wanted, "k": [k for k, _ in wrapped], "w": [w for _, w in wrapped]},
        )
        return {str(u): self.cipher(str(u), (k, bytes(w))) for u, k, w in result}

    async def shred(self, connection: AsyncConnection, user_id: str) -> int:
        """Destroy the user's data key (erasure's first step); how many rows were deleted."""
        result = await connection.execute(
            text("DELETE FROM data_keys WHERE user_id = CAST(:u AS uuid)"), {"u": user_id}
        )
        self._cache.pop(user_id, None)
        return int(getattr(result, "rowcount", 0) or 0)
