"""AES-256-GCM sealing of one stored value under a user's data key.

A sealed value is `0x01 | nonce (12 bytes) | ciphertext | tag (16 bytes)`: the version byte
lets a later format live beside this one. The associated data binds the value to its place:
the user id, the table and the column. A value copied onto another user's row, or from one
column into another, fails to open, as does any altered byte; both raise `UnreadableData` (a
permanent error: the same bytes will never open).

Random 96-bit nonces: a data key seals one user's values only (a few thousand in its life),
far below the 2^32 messages per key that NIST SP 800-38D allows for random nonces.
"""

from __future__ import annotations

import os
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from service.errors import UnreadableData

FORMAT_AES_GCM: Final = 1
_HEADER: Final = bytes([FORMAT_AES_GCM])
NONCE_BYTES: Final = 12

# Where a sealed value is stored: (table, column); part of the associated data.
REPORT: Final = ("report_snapshots", "report")
EVENT: Final = ("user_events", "event")
QUARANTINE_INPUT: Final = ("quarantine", "input_value")
QUARANTINE_BODY: Final = ("quarantine", "report_body")


def associated_data(user_id: str, place: tuple[str, str]) -> bytes:
    """What a sealed value is bound to: its user, table and column."""
    table, column = place
    return f"{user_id}\x00{table}.{column}".encode()


def seal(key: AESGCM, user_id: str, place: tuple[str, str], plaintext: bytes) -> bytes:
    """The value sealed for its user and place."""
    nonce = os.urandom(NONCE_BYTES)
    return _HEADER + nonce + key.encrypt(nonce, plaintext, associated_data(user_id, place))


def open_sealed(key: AESGCM, user_id: str, place: tuple[str, str], sealed: bytes) -> bytes:
    """The plaintext of a sealed value; UnreadableData if it was altered, moved or is foreign."""
    if len(sealed) < 1 + NONCE_BYTES + 16 or sealed[0] != FORMAT_AES_GCM:
        raise UnreadableData("not a sealed value of a known format")
    nonce = sealed[1 : 1 + NONCE_BYTES]
    try:
        return key.decrypt(nonce, sealed[1 + NONCE_BYTES :], associated_data(user_id, place))
    except InvalidTag:
        raise UnreadableData(
            "sealed value does not open (altered, moved, or another key)"
        ) from None
