"""Which offset of a partition may be committed while messages finish out of order. Pure.

Messages of one partition are processed concurrently (different users), so they finish out of
order; the committed offset may only move up to the lowest message not yet finished, or a
crash would lose the unfinished ones.
"""

from __future__ import annotations

import heapq


class PartitionOffsets:
    """Tracks started and finished offsets of one partition."""

    __slots__ = ("_done", "_next_expected", "_pending")

    def __init__(self) -> None:
        self._pending: list[int] = []  # a heap of started, unfinished offsets
        self._done: set[int] = set()
        self._next_expected: int | None = None

    def start(self, offset: int) -> None:
        """Register a message taken for processing (offsets arrive in increasing order)."""
        heapq.heappush(self._pending, offset)

    def finish(self, offset: int) -> None:
        """Mark a message finished (stored, skipped or dead-lettered)."""
        self._done.add(offset)
        while self._pending and self._pending[0] in self._done:
            finished = heapq.heappop(self._pending)
            self._done.discard(finished)
            self._next_expected = finished + 1

    def committable(self) -> int | None:
        """The offset to commit (the next one to read), or None when nothing finished yet."""
        if self._next_expected is None:
            return None
        # Everything below the lowest unfinished offset is finished (or not ours to read).
        return self._pending[0] if self._pending else self._next_expected

    @property
    def in_flight(self) -> int:
        """How many started messages are not finished yet."""
        return len(self._pending)
