"""Which offset of a partition may be committed while messages finish out of order. Pure.

Messages of one partition are processed concurrently (different users), so they finish out of
order; the committed offset may only move up to the lowest message not yet finished, or a
crash would lose the unfinished ones.

The tracker also refuses to move past records it never saw. It starts at the partition's
committed position and expects records contiguously from there. A record above the expected
offset means a gap: records that were fetched but never reached the pipeline (a bug in a layer
below us), or offsets that Kafka legitimately never delivers (transaction markers, aborted or
compacted records). The two cannot be told apart from the record alone, so the first time a
gap is seen the consumer seeks back to its start and fetches again; only a gap that the
re-fetch confirms (the same next offset arrives again) is passed over.
"""

from __future__ import annotations

import enum
import heapq


class Accept(enum.Enum):
    """What the tracker says of a fetched record."""

    NEW = "new"  # take it: registered as started
    SEEN = "seen"  # already registered (a re-fetch after a seek): skip it
    GAP = "gap"  # records before it were never seen: seek back to `expected` and re-fetch


class PartitionOffsets:
    """Tracks the seen, started and finished offsets of one partition."""

    __slots__ = ("_done", "_expected", "_pending", "_suspected_gap")

    def __init__(self, position: int | None = None) -> None:
        # The next offset the partition must deliver; None until known (no committed offset:
        # the first record fetched, at the reset position, sets it).
        self._expected = position
        self._pending: list[int] = []  # a heap of started, unfinished offsets
        self._done: set[int] = set()
        self._suspected_gap: tuple[int, int] | None = None

    @property
    def expected(self) -> int | None:
        """The next offset this partition must deliver (where a re-fetch starts)."""
        return self._expected

    def accept(self, offset: int) -> Accept:
        """Register a fetched record if it is the next one; say what to do with it."""
        if self._expected is None:
            self._expected = offset
        if offset < self._expected:
            return Accept.SEEN
        if offset > self._expected:
            gap = (self._expected, offset)
            if self._suspected_gap != gap:
                self._suspected_gap = gap
                return Accept.GAP
            # The re-fetch confirmed it: nothing is delivered below `offset`.
        self._suspected_gap = None
        heapq.heappush(self._pending, offset)
        self._expected = offset + 1
        return Accept.NEW

    def finish(self, offset: int) -> None:
        """Mark a started message finished (stored, skipped or dead-lettered)."""
        self._done.add(offset)
        while self._pending and self._pending[0] in self._done:
            finished = heapq.heappop(self._pending)
            self._done.discard(finished)

    def committable(self) -> int | None:
        """The offset to commit (the next one to read), or None when nothing is known yet.

        Everything below it was seen and finished: the lowest unfinished offset, or else the
        next one expected (never past an unconfirmed gap).
        """
        return self._pending[0] if self._pending else self._expected

    @property
    def in_flight(self) -> int:
        """How many started messages are not finished yet."""
        return len(self._pending)
