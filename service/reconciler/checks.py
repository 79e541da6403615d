"""The reconciler's port onto Alice, and the one adapter method per call it makes.

Every Alice call of the reconciler goes through `AliceChecks`, which tells the shared rate
budget (`service/budget/`) that these calls are background work: they only use what the
pipeline leaves, so a reconciliation round never slows the intake of new events.
"""

from __future__ import annotations

from typing import Protocol

from service.budget.permits import Priority


class UserStateSource(Protocol):
    """What the reconciler needs of Alice (the Alice client, or a hand-written fake)."""

    async def fetch_user_state(self, user_id: str, *, priority: Priority = ...) -> str:
        """The user's state as Alice spells it, or a `service.errors` exception."""
        ...

    async def fetch_report(self, user_id: str, *, priority: Priority = ...) -> bytes:
        """The raw `{"report": {...}}` body, or a `service.errors` exception."""
        ...


class AliceChecks:
    """The reconciler's Alice calls, all of them (404 raises `AliceUserNotFound`)."""

    def __init__(self, source: UserStateSource) -> None:
        self._source = source
        self.priority = Priority.BACKGROUND

    async def state(self, user_id: str) -> str:
        """`GET /user/state`: the cheap call made at every check."""
        return await self._source.fetch_user_state(user_id, priority=self.priority)

    async def report(self, user_id: str) -> bytes:
        """`GET /user/report`: only when the state changed or at every Nth check."""
        return await self._source.fetch_report(user_id, priority=self.priority)
