"""Committable offsets while messages of one partition finish out of order, and never past a
record that was not seen."""

from __future__ import annotations

import random

from service.offsets import Accept, PartitionOffsets


def _started(position: int | None, offsets: list[int]) -> PartitionOffsets:
    tracker = PartitionOffsets(position)
    for offset in offsets:
        assert tracker.accept(offset) is Accept.NEW
    return tracker


def test_nothing_moves_before_a_message_finishes() -> None:
    """Started messages alone never move the committable offset beyond the committed one."""
    assert _started(10, [10, 11, 12]).committable() == 10
    assert _started(None, [10, 11, 12]).committable() == 10


def test_commit_stops_below_the_lowest_unfinished_message() -> None:
    """A finished message above an unfinished one does not move the offset past the latter."""
    offsets = _started(10, [10, 11, 12, 13])
    offsets.finish(12)
    offsets.finish(10)
    assert offsets.committable() == 11
    offsets.finish(11)
    assert offsets.committable() == 13
    offsets.finish(13)
    assert offsets.committable() == 14
    assert offsets.in_flight == 0


def test_a_record_above_the_expected_offset_is_a_gap_until_a_refetch_confirms_it() -> None:
    """Records that were fetched but never seen (a lost batch) are never committed past: the
    first jump asks for a re-fetch from the expected offset."""
    offsets = _started(5, [5])
    offsets.finish(5)
    assert offsets.accept(9) is Accept.GAP
    assert offsets.expected == 6
    assert offsets.committable() == 6  # not past the unseen 6..8


def test_a_refetch_that_delivers_the_missing_records_fills_the_gap() -> None:
    """After the seek, the records that were missing arrive and are taken in order."""
    offsets = _started(5, [5])
    assert offsets.accept(9) is Accept.GAP
    assert [offsets.accept(o) for o in (6, 7, 8, 9)] == [Accept.NEW] * 4
    for offset in (5, 6, 7, 8, 9):
        offsets.finish(offset)
    assert offsets.committable() == 10


def test_a_gap_the_refetch_confirms_is_passed_over() -> None:
    """Offsets Kafka never delivers (transaction markers, compaction) hold nothing up once a
    re-fetch delivered the same next record again."""
    offsets = _started(5, [5])
    assert offsets.accept(9) is Accept.GAP
    assert offsets.accept(9) is Accept.NEW  # the re-fetch starts at 9 again
    offsets.finish(5)
    assert offsets.committable() == 9
    offsets.finish(9)
    assert offsets.committable() == 10


def test_records_already_taken_are_seen_on_a_refetch() -> None:
    """A re-fetch from an earlier position delivers taken records again: they are skipped."""
    offsets = _started(0, [0, 1, 2])
    assert offsets.accept(1) is Accept.SEEN
    assert offsets.accept(3) is Accept.NEW


def test_a_tracker_starts_at_the_committed_offset_not_at_the_first_record() -> None:
    """A partition that comes back cannot start its tracker above the committed offset."""
    offsets = PartitionOffsets(100)
    assert offsets.accept(150) is Accept.GAP
    assert offsets.committable() == 100


def test_random_completion_order_never_commits_past_an_unfinished_message() -> None:
    """Whatever the completion order, the committable offset never passes an unfinished one."""
    rng = random.Random(7)
    for _ in range(50):
        count = 40
        offsets = _started(0, list(range(count)))
        pending = set(range(count))
        for offset in rng.sample(range(count), count):
            offsets.finish(offset)
            pending.discard(offset)
            position = offsets.committable()
            assert position is not None
            if pending:
                assert position <= min(pending)
        assert offsets.committable() == count
