"""Login and backend tokens: HS256 JWTs with `iat` and `exp`, revocable, on a movable clock.

A token carries `kind` ("login" or "backend"), `user_id` for backend tokens, and `gen`: the
revocation generation it was issued in. `revoke_all()` bumps the generation, so every token
issued before is refused (401) while new ones work. Expiry and revocation are checked on every
call, also for tokens whose signature was verified before. `advance_clock()` moves the emulator's
clock forward so tests can expire tokens without sleeping.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable
from typing import Any

import jwt

# Signature checks dominate the cost of a report call: verified claims are kept by token.
_VERIFIED_CACHE_SIZE = 100_000
LOGIN = "login"
BACKEND = "backend"


class TokenRejectedError(Exception):
    """The token is missing, malformed, badly signed, of the wrong kind, expired or revoked."""


class TokenAuthority:
    """Issues and verifies the emulator's JWTs."""

    def __init__(
        self,
        *,
        ttl_s: float = 3600.0,
        secret: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.ttl_s = ttl_s
        self._secret = secret or secrets.token_urlsafe(32)
        self._clock = clock
        self._offset_s = 0.0
        self._generation = 0
        self._verified: dict[str, dict[str, Any]] = {}

    def now(self) -> float:
        """The emulator's current time (wall clock plus any `advance_clock`)."""
        return self._clock() + self._offset_s

    def advance_clock(self, seconds: float) -> None:
        """Move the emulator's clock forward: tokens past their `exp` are then refused."""
        self._offset_s += seconds

    def revoke_all(self) -> None:
        """Refuse every token issued so far."""
        self._generation += 1

    def issue(self, kind: str, user_id: str | None = None) -> str:
        """A signed token of `kind` valid for `ttl_s` seconds from now."""
        now = self.now()
        claims: dict[str, Any] = {
            "kind": kind,
            "gen": self._generation,
            "iat": int(now),
            # Rounded up so that a token is never valid for less than the TTL.
            "exp": math.ceil(now + self.ttl_s),
            "jti": secrets.token_hex(8),
        }
        if user_id is not None:
            claims["user_id"] = user_id
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def _decode(self, token: str) -> dict[str, Any]:
        try:
            # Time claims are checked in `verify` against the emulator's own (movable) clock.
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                options={"verify_exp": False, "verify_iat": False, "require": ["exp", "iat"]},
            )
        except jwt.PyJWTError as exc:
            raise TokenRejectedError("invalid token") from exc
        return claims

    def verify(self, authorization: str | None, kind: str) -> dict[str, Any]:
        """The claims of a valid `Bearer` token of `kind`; raises `TokenRejectedError`."""
        if not authorization or not authorization.startswith("Bearer "):
            raise TokenRejectedError("missing bearer token")
        token = authorization.removeprefix("Bearer ").strip()
        claims = self._verified.get(token)
        if claims is None:
            claims = self._decode(token)
            if len(self._verified) >= _VERIFIED_CACHE_SIZE:
                self._verified.clear()
            self._verified[token] = claims
        if claims.get("kind") != kind:
            raise TokenRejectedError("wrong token kind")
        if self.now() >= claims["exp"]:
            raise TokenRejectedError("token expired")
        if claims.get("gen") != self._generation:
            raise TokenRejectedError("token revoked")
        return claims
