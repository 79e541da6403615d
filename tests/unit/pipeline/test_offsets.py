"""Committable offsets while messages of one partition finish out of order."""

from __future__ import annotations

import random

from service.offsets import PartitionOffsets


def test_nothing_committable_before_a_message_finishes() -> None:
    """Started messages alone never move the committed offset."""
    offsets = PartitionOffsets()
    for offset in (10, 11, 12):
        offsets.start(offset)
    assert offsets.committable() is None


def test_commit_stops_below_the_lowest_unfinished_message() -> None:
    """A finished message above an unfinished one does not move the offset past the latter."""
    offsets = PartitionOffsets()
    for offset in (10, 11, 12, 13):
        offsets.start(offset)
    offsets.finish(12)
    offsets.finish(10)
    assert offsets.committable() == 11
    offsets.finish(11)
    assert offsets.committable() == 13
    offsets.finish(13)
    assert offsets.committable() == 14
    assert offsets.in_flight == 0


def test_gaps_in_offsets_do_not_block_commits() -> None:
    """Offsets need not be contiguous (compaction, transaction markers)."""
    offsets = PartitionOffsets()
    for offset in (5, 9, 20):
        offsets.start(offset)
    offsets.finish(5)
    assert offsets.committable() == 9
    offsets.finish(20)
    offsets.finish(9)
    assert offsets.committable() == 21


def test_random_completion_order_never_commits_past_an_unfinished_message() -> None:
    """Whatever the completion order, the committable offset never passes an unfinished one."""
    rng = random.Random(7)
    for _ in range(50):
        started = sorted(rng.sample(range(1000), 40))
        offsets = PartitionOffsets()
        for offset in started:
            offsets.start(offset)
        pending = set(started)
        for offset in rng.sample(started, len(started)):
            offsets.finish(offset)
            pending.discard(offset)
            position = offsets.committable()
            if position is not None and pending:
                assert position <= min(pending)
        assert offsets.committable() == started[-1] + 1
