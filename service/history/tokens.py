"""The history API's bearer tokens: parsed from HISTORY_API_TOKENS, checked in constant time.

HISTORY_API_TOKENS holds comma-separated `name:token` entries; the name identifies the caller
in the audit row of a reveal (`api:<name>`). Each token is compared with `hmac.compare_digest`,
and every configured token is compared on every request, so neither which token matched nor how
much of one matched shows in the response time.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Final

from pydantic import SecretStr

MIN_TOKEN_CHARS: Final = 16


@dataclass(frozen=True, slots=True)
class ApiToken:
    """One caller: its name and its token (never logged, never shown)."""

    name: str
    token: SecretStr


def parse_tokens(raw: SecretStr | None) -> tuple[ApiToken, ...]:
    """The entries of HISTORY_API_TOKENS: `name:token`, a name and a token of at least
    MIN_TOKEN_CHARS characters; ValueError naming the entry's position (never its text)."""
    if raw is None:
        return ()
    tokens = []
    for number, entry in enumerate(raw.get_secret_value().split(","), start=1):
        if not entry.strip():
            continue
        name, _, token = entry.strip().partition(":")
        if not name.strip() or len(token.strip()) < MIN_TOKEN_CHARS:
            raise ValueError(
                f"HISTORY_API_TOKENS entry {number} is not name:token with a token of at least"
                f" {MIN_TOKEN_CHARS} characters"
            )
        tokens.append(ApiToken(name.strip(), SecretStr(token.strip())))
    return tuple(tokens)


def caller(tokens: tuple[ApiToken, ...], authorization: str | None) -> str | None:
    """The name of the caller whose token the `Authorization: Bearer` header holds, or None."""
    scheme, _, presented = (authorization or "").partition(" ")
    candidate = presented.strip().encode() if scheme.lower() == "bearer" else b""
    found = None
    for entry in tokens:
        if hmac.compare_digest(candidate, entry.token.get_secret_value().encode()) and candidate:
            found = entry.name
    return found
