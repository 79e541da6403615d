"""Crypto-shredding (issue 11, point 2): personal data encrypted under per-user data keys.

- `keyring.py`: the key-encryption keys (KEKs) from ENCRYPTION_KEYS; wraps and unwraps data keys.
- `cipher.py`: AES-256-GCM sealing of one stored value, bound to its user, table and column.
- `datakeys.py`: the `data_keys` table (one wrapped data key per user) and an in-process LRU of
  unwrapped keys; `shred` destroys a user's key (erasure's `KeyShredder`).
- `reader.py`: the one place stored rows are decrypted (`Unsealer`): export, history, tools.
- `rotation.py`: `rotate-keys`, re-wrapping every data key under the newest KEK.
- `legacy.py`: `seal-legacy`, sealing the rows stored in clear before migration 0006.
"""

from service.crypto.cipher import (
    EVENT,
    QUARANTINE_BODY,
    QUARANTINE_INPUT,
    REPORT,
    open_sealed,
    seal,
)
from service.crypto.datakeys import DataKeys
from service.crypto.keyring import Keyring, KeysMissing
from service.crypto.reader import Unsealer

__all__ = [
    "EVENT",
    "QUARANTINE_BODY",
    "QUARANTINE_INPUT",
    "REPORT",
    "DataKeys",
    "Keyring",
    "KeysMissing",
    "Unsealer",
    "open_sealed",
    "seal",
]
