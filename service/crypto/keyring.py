"""The key-encryption keys (KEKs): parsed from ENCRYPTION_KEYS, used to wrap per-user data keys.

ENCRYPTION_KEYS is `id:base64,id:base64,...` (each key 32 random bytes); the last one listed is
the active KEK, which wraps every new data key and which `rotate-keys` re-wraps to; the others
still unwrap the keys they wrapped. A wrapped data key is AES-256-GCM of the 32-byte key under
the KEK, with the user id and the KEK id as associated data: a wrapped key copied onto another
user, or relabelled with another KEK id, fails to unwrap.

Without any KEK, production (ENVIRONMENT=production, the default) refuses to start
(`KeysMissing`). Development runs with a built-in, publicly known development KEK and a loud
warning: the same code path as production (every body encrypted, erasure still shreds), data
that survives restarts and is readable by the CLI tools, but no confidentiality against anyone
holding this source. Production refuses that key too.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import structlog
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from service.errors import UnreadableData

if TYPE_CHECKING:
    from service.settings import Settings

log = structlog.get_logger(__name__)

KEY_BYTES: Final = 32
NONCE_BYTES: Final = 12
DEVELOPMENT_KEK_ID: Final = "development-insecure"
# Not a secret, on purpose: see the module docstring. Never accepted in production.
_DEVELOPMENT_KEK: Final = hashlib.sha256(b"alice-report-ingestor development KEK").digest()
_KEY_ID: Final = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class KeysMissing(RuntimeError):
    """Production without a usable ENCRYPTION_KEYS: the service must not start."""


def parse_keys(text: str) -> dict[str, bytes]:
    """The KEKs of `id:base64,...` in order (the last is active); ValueError naming the id."""
    keys: dict[str, bytes] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        key_id, sep, encoded = part.partition(":")
        key_id = key_id.strip()
        if not sep or not _KEY_ID.match(key_id):
            raise ValueError("ENCRYPTION_KEYS entries are id:base64 (id of [A-Za-z0-9._-])")
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError(f"ENCRYPTION_KEYS: key {key_id} is not base64") from None
        if len(key) != KEY_BYTES:
            raise ValueError(f"ENCRYPTION_KEYS: key {key_id} is not {KEY_BYTES} bytes")
        if key_id in keys:
            raise ValueError(f"ENCRYPTION_KEYS: key id {key_id} is listed twice")
        keys[key_id] = key
    if not keys:
        raise ValueError("ENCRYPTION_KEYS lists no key")
    return keys


def new_kek_text(key_id: str) -> str:
    """A fresh `id:base64` entry for ENCRYPTION_KEYS (documented in the README)."""
    return f"{key_id}:{base64.b64encode(os.urandom(KEY_BYTES)).decode('ascii')}"


def _wrap_aad(user_id: str, kek_id: str) -> bytes:
    return f"data-key\x00{user_id}\x00{kek_id}".encode()


@dataclass(frozen=True)
class Keyring:
    """The KEKs by id and the active one's id."""

    keks: Mapping[str, AESGCM]
    active_id: str

    @classmethod
    def of(cls, keys: Mapping[str, bytes]) -> Keyring:
        """A keyring of these keys (insertion order: the last is active)."""
        return cls({k: AESGCM(v) for k, v in keys.items()}, list(keys)[-1])

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        """The settings' KEKs; in production, KeysMissing when there are none (or the
        development key is among them); in development, the development KEK with a warning."""
        configured = settings.encryption_keys
        keys = parse_keys(configured.get_secret_value()) if configured is not None else {}
        production = settings.environment == "production"
        if production and (not keys or DEVELOPMENT_KEK_ID in keys):
            raise KeysMissing(
                "ENCRYPTION_KEYS is required in production (ENVIRONMENT=production): "
                "personal data is never stored without a key-encryption key"
            )
        if not keys:
            log.warning(
                "NO ENCRYPTION_KEYS: using the built-in development key; stored reports are "
                "NOT confidential. Set ENCRYPTION_KEYS (production refuses to start without it)"
            )
            keys = {DEVELOPMENT_KEK_ID: _DEVELOPMENT_KEK}
        return cls.of(keys)

    def wrap(self, user_id: str, data_key: bytes) -> tuple[str, bytes]:
        """The data key wrapped under the active KEK: (KEK id, nonce + ciphertext + tag)."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self.keks[self.active_id].encrypt(
            nonce, data_key, _wrap_aad(user_id, self.active_id)
        )
        return self.active_id, nonce + sealed

    def unwrap(self, user_id: str, kek_id: str, wrapped: bytes) -> bytes:
        """The data key; UnreadableData when the KEK is unknown or the wrapping was altered."""
        kek = self.keks.get(kek_id)
        if kek is None:
            raise UnreadableData(f"data key wrapped by unknown KEK {kek_id!r}")
        try:
            return kek.decrypt(
                wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_aad(user_id, kek_id)
            )
        except InvalidTag:
            raise UnreadableData(f"data key does not unwrap under KEK {kek_id!r}") from None
