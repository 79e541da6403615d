"""User ids are refused unless they are UUIDs, before they get anywhere near a URL."""

from __future__ import annotations

import pytest

from service.alice.userid import canonical_user_id
from service.errors import InvalidUserId

VALID = "0b9c6f4e-2f1a-4c3e-9d5b-7a8e1f2c3d4e"


def test_canonical_uuid_is_kept() -> None:
    """A canonical lower-case UUID comes back unchanged."""
    assert canonical_user_id(VALID) == VALID


def test_upper_case_is_canonicalised() -> None:
    """An upper-case UUID is accepted and sent in its canonical lower-case form."""
    assert canonical_user_id(VALID.upper()) == VALID


@pytest.mark.parametrize(
    "value",
    [
        "",
        "../users",
        "%2e%2e",
        "..%2fusers",
        VALID + "/../users",
        VALID + "?x=1",
        VALID + "\n",
        " " + VALID,
        "{" + VALID + "}",
        "urn:uuid:" + VALID,
        VALID.replace("-", ""),
        VALID + "0",
        "x" * 10_000,
        "0b9c6f4e-2f1a-4c3e-9d5b-7a8e1f2c3d4\u0664",  # an Arabic-Indic digit
        "0b9c6f4e-2f1a-4c3e-9d5b-7a8e1f2c3d4g",
    ],
)
def test_anything_else_is_refused(value: str) -> None:
    """Path tricks, encodings, other UUID spellings and junk raise `InvalidUserId`."""
    with pytest.raises(InvalidUserId) as caught:
        canonical_user_id(value)
    assert not caught.value.transient
    assert value not in str(caught.value) or value == ""


@pytest.mark.parametrize("value", [None, 123, b"0b9c6f4e-2f1a-4c3e-9d5b-7a8e1f2c3d4e"])
def test_non_strings_are_refused(value: object) -> None:
    """A value that is not a `str` (None, a number, bytes) raises `InvalidUserId`."""
    with pytest.raises(InvalidUserId):
        canonical_user_id(value)
