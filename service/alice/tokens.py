"""A bounded, single-flight cache of Alice's bearer tokens (login and per-user backend).

- Expiry comes from the JWT `exp` claim, read without verifying the signature (a client
  cannot verify it; `exp` is the only claim API.md lets us rely on).
- A token is refreshed `refresh_margin_s` before `exp`, never after: the official SDK's
  "60 s of grace after exp" is the bug that API.md tells us not to copy. For tokens whose
  whole lifetime is shorter than twice the margin (test emulators, a changed TTL), the margin
  shrinks to half the lifetime, so that such tokens are still cached instead of fetched on
  every call.
- A token without a readable `exp` lives `fallback_ttl_s` (60 s by default): long enough not
  to cost a token request per report, short enough that a surprise short-lived token costs at
  most one 401 and one refresh per minute (the 401 path recovers anyway).
- At most `max_entries` tokens are kept, least recently used evicted first.
- One fetch per key at a time: concurrent callers for the same key share one `asyncio.Task`,
  so 100 reports of one user (or a burst after expiry) make one token request, not 100. A
  caller that is cancelled does not cancel the fetch that others are waiting for.

The cache never logs and its values never appear in a repr.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import jwt

DEFAULT_FALLBACK_TTL_S = 60.0


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A bearer token and the POSIX time at which we stop using it."""

    value: str = field(repr=False)
    refresh_at: float

    def usable(self, now: float) -> bool:
        """Whether the token may still be sent at `now`."""
        return now < self.refresh_at


def token_exp(value: str) -> float | None:
    """The `exp` claim of a JWT as POSIX seconds, or None when it cannot be read."""
    try:
        claims = jwt.decode(value, options={"verify_signature": False, "verify_exp": False})
    except jwt.PyJWTError:
        return None
    exp = claims.get("exp")
    # bool is an int subclass: `"exp": true` is not a time.
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return None
    return float(exp)


def refresh_time(value: str, *, now: float, margin_s: float, fallback_ttl_s: float) -> float:
    """When to stop using the token `value` obtained at `now` (see the module docstring)."""
    exp = token_exp(value)
    if exp is None:
        return now + fallback_ttl_s
    lifetime = exp - now
    return exp - min(margin_s, max(lifetime, 0.0) / 2)


class TokenCache:
    """Bounded LRU of tokens by key, with one in-flight fetch per key."""

    def __init__(
        self,
        *,
        max_entries: int,
        refresh_margin_s: float,
        clock: Callable[[], float] = time.time,
        fallback_ttl_s: float = DEFAULT_FALLBACK_TTL_S,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._max_entries = max_entries
        self._margin_s = refresh_margin_s
        self._clock = clock
        self._fallback_ttl_s = fallback_ttl_s
        self._tokens: OrderedDict[str, AccessToken] = OrderedDict()
        self._fetches: dict[str, asyncio.Task[AccessToken]] = {}

    def __len__(self) -> int:
        return len(self._tokens)

    def __repr__(self) -> str:
        return f"<TokenCache entries={len(self._tokens)} in_flight={len(self._fetches)}>"

    def peek(self, key: str) -> AccessToken | None:
        """The cached token for `key` if it is still usable, without fetching."""
        token = self._tokens.get(key)
        if token is None:
            return None
        if not token.usable(self._clock()):
            del self._tokens[key]
            return None
        self._tokens.move_to_end(key)
        return token

    async def get(self, key: str, fetch: Callable[[], Awaitable[str]]) -> AccessToken:
        """The cached token for `key`, or the result of one shared call to `fetch`.

        A freshly fetched token is returned even if the clock says it is already stale (a
        skewed clock must not turn into a fetch loop): the server has the last word, and a
        401 leads to `invalidate` and one more fetch.
        """
        cached = self.peek(key)
        if cached is not None:
            return cached
        task = self._fetches.get(key)
        if task is None:
            task = asyncio.create_task(self._fetch(key, fetch), name=f"alice-token-{key}")
            self._fetches[key] = task
            task.add_done_callback(_retrieve_exception)
        # shield: one caller's cancellation must not cancel the fetch the others wait for.
        return await asyncio.shield(task)

    async def _fetch(self, key: str, fetch: Callable[[], Awaitable[str]]) -> AccessToken:
        try:
            value = await fetch()
            token = AccessToken(
                value=value,
                refresh_at=refresh_time(
                    value,
                    now=self._clock(),
                    margin_s=self._margin_s,
                    fallback_ttl_s=self._fallback_ttl_s,
                ),
            )
            self._store(key, token)
            return token
        finally:
            self._fetches.pop(key, None)

    def _store(self, key: str, token: AccessToken) -> None:
        self._tokens[key] = token
        self._tokens.move_to_end(key)
        while len(self._tokens) > self._max_entries:
            self._tokens.popitem(last=False)

    def invalidate(self, key: str, token: AccessToken) -> bool:
        """Drop `token` for `key` if it is still the cached one; return whether it was.

        Comparing the token (not just the key) matters under concurrency: ten requests that
        all got a 401 with the same revoked token drop it once, and none of them drops the
        fresh token another one has fetched in the meantime.
        """
        if self._tokens.get(key) is token:
            del self._tokens[key]
            return True
        return False

    def clear(self) -> None:
        """Forget every token (in-flight fetches still complete)."""
        self._tokens.clear()

    async def aclose(self) -> None:
        """Cancel the fetches still in flight and forget every token."""
        tasks = list(self._fetches.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tokens.clear()


def _retrieve_exception(task: asyncio.Task[AccessToken]) -> None:
    """Mark a failed fetch as retrieved when every waiter was cancelled before it ended."""
    if not task.cancelled():
        task.exception()
