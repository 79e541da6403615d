"""Sealing one stored value: a round trip opens, and any altered byte, another user, another
column or another key fails with the typed permanent error."""

from __future__ import annotations

import os

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from service.crypto.cipher import EVENT, REPORT, open_sealed, seal
from service.errors import PermanentError, UnreadableData

USER = "3f0c1d8e-6a55-4c1e-9d3e-0b7f1a2c4d5e"
OTHER_USER = "9a1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d"
BODY = b'{"report": {"summary": {"user_data": [{"name": "last_name", "value": "Lovelace"}]}}}'


@pytest.fixture
def key() -> AESGCM:
    """A fresh data key."""
    return AESGCM(os.urandom(32))


def test_a_sealed_value_opens_to_the_same_bytes_and_hides_them(key: AESGCM) -> None:
    """Sealing then opening gives the original bytes back; the sealed bytes do not contain them."""
    sealed = seal(key, USER, REPORT, BODY)
    assert b"Lovelace" not in sealed
    assert open_sealed(key, USER, REPORT, sealed) == BODY


def test_sealing_twice_gives_different_bytes(key: AESGCM) -> None:
    """Each seal has its own nonce: equal reports do not give equal ciphertexts."""
    assert seal(key, USER, REPORT, BODY) != seal(key, USER, REPORT, BODY)


@pytest.mark.parametrize("position", [0, 1, 13, 40, -1])
def test_any_altered_byte_is_a_typed_permanent_error(key: AESGCM, position: int) -> None:
    """Flipping one byte (format, nonce, ciphertext or tag) raises UnreadableData, permanent."""
    sealed = bytearray(seal(key, USER, REPORT, BODY))
    sealed[position] ^= 0x01
    with pytest.raises(UnreadableData) as raised:
        open_sealed(key, USER, REPORT, bytes(sealed))
    assert isinstance(raised.value, PermanentError)
    assert raised.value.transient is False


def test_a_value_moved_to_another_user_does_not_open(key: AESGCM) -> None:
    """The user id is associated data: the same key and bytes under another user fail."""
    sealed = seal(key, USER, REPORT, BODY)
    with pytest.raises(UnreadableData):
        open_sealed(key, OTHER_USER, REPORT, sealed)


def test_a_value_moved_to_another_column_does_not_open(key: AESGCM) -> None:
    """The table and column are associated data: a report body read as an event fails."""
    sealed = seal(key, USER, REPORT, BODY)
    with pytest.raises(UnreadableData):
        open_sealed(key, USER, EVENT, sealed)


def test_another_key_does_not_open(key: AESGCM) -> None:
    """A value sealed under one data key does not open under another (a shredded key's
    replacement, or another user's)."""
    sealed = seal(key, USER, REPORT, BODY)
    with pytest.raises(UnreadableData):
        open_sealed(AESGCM(os.urandom(32)), USER, REPORT, sealed)


def test_a_truncated_or_foreign_value_is_unreadable(key: AESGCM) -> None:
    """Bytes too short to be sealed, or of an unknown format, are refused before decrypting."""
    with pytest.raises(UnreadableData):
        open_sealed(key, USER, REPORT, b"\x01short")
    with pytest.raises(UnreadableData):
        open_sealed(key, USER, REPORT, b"{" + os.urandom(40))
