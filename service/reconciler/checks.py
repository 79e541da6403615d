"""The reconciler's port onto Alice, and the one adapter method per call it makes.

Every Alice call of the reconciler goes through `AliceChecks`, so that the shared rate budget
(issue 10, section 2) can be told these calls are background work, below the pipeline, in one
place: pass the priority here when the limiter exists.
"""

from __future__ import annotations

from typing import Final, Protocol

BACKGROUND: Final = "background"  # the priority these calls will carry to the rate budget


class UserStateSource(Protocol):
    """What the reconciler needs of Alice (the Alice client, or a hand-written fake)."""

    async def fetch_user_state(self, user_id: str) -> str:
        """The user's state as Alice spells it, or a `service.errors` exception."""
        ...

    async def fetch_report(self, user_id: str) -> bytes:
        """The raw `{"report": {...}}` body, or a `service.errors` exception."""
        ...


class AliceChecks:
    """The reconciler's Alice calls, all of them (404 raises `AliceUserNotFound`)."""

    def __init__(self, source: UserStateSource) -> None:
        self._source = source
        self.priority = BACKGROUND

    async def state(self, user_id: str) -> str:
        """`GET /user/state`: the cheap call made at every check."""
        return await self._source.fetch_user_state(user_id)

    async def report(self, user_id: str) -> bytes:
        """`GET /user/report`: only when the state changed or at every Nth check."""
        return await self._source.fetch_report(user_id)
