"""The ledger's accounting on hand-made records: what counts as lost, doubled, out of order."""

from __future__ import annotations

from typing import Any

from reliability.ledger import Ledger, _account_inputs, _check_output, _check_snapshots
from reliability.publish import Published, Record
from reliability.topics import KafkaRecord

TOPIC = "in"
OUT = "out"


def _input(partition: int, offset: int) -> KafkaRecord:
    return KafkaRecord(partition, offset, b"k", b"v", ())


def _letter(partition: int, offset: int, *, reason: bytes = b"bad") -> KafkaRecord:
    headers = (
        ("dlq_error_class", b"invalid_input"),
        ("dlq_reason", reason),
        ("dlq_source_topic", TOPIC.encode()),
        ("dlq_source_partition", str(partition).encode()),
        ("dlq_source_offset", str(offset).encode()),
    )
    return KafkaRecord(0, 100 + offset, b"k", b"v", headers)


def _row(partition: int, offset: int, outcome: str) -> dict[str, Any]:
    return {"topic": TOPIC, "partition": partition, "offset": offset, "outcome": outcome}


def _account(
    inputs: list[KafkaRecord],
    inbox: list[dict[str, Any]],
    dead: list[KafkaRecord],
    published: list[Published],
) -> Ledger:
    ledger = Ledger()
    _account_inputs(
        ledger,
        topic=TOPIC,
        inputs=inputs,
        inbox=inbox,
        dead=dead,
        published=published,
        replays_expected="processed",
    )
    return ledger


def test_each_record_is_processed_dead_lettered_or_lost() -> None:
    """Stored and unchanged rows count as processed, a DLQ record as dead-lettered, else lost."""
    inputs = [_input(0, 0), _input(0, 1), _input(1, 0), _input(1, 1)]
    inbox = [_row(0, 0, "stored"), _row(0, 1, "unchanged"), _row(1, 0, "dead_lettered")]
    ledger = _account(inputs, inbox, [_letter(1, 0)], [])

    assert (ledger.messages_in, ledger.stored, ledger.dead_lettered, ledger.lost) == (4, 2, 1, 1)
    assert ledger.lost_kinds == {"replayed": 1}


def test_a_stale_report_is_processed_not_lost() -> None:
    """A record whose report was older than the stored one (outcome stale) counts as processed."""
    ledger = _account(
        [_input(0, 0), _input(1, 0)], [_row(0, 0, "stored"), _row(1, 0, "stale")], [], []
    )

    assert (ledger.stored, ledger.lost) == (2, 0)
    assert ledger.problems == []


def test_a_dead_letter_row_without_its_dlq_record_is_lost() -> None:
    """An inbox row saying dead_lettered is not enough: the DLQ record must exist."""
    ledger = _account([_input(0, 0)], [_row(0, 0, "dead_lettered")], [], [])

    assert ledger.lost == 1


def test_valid_record_dead_lettered_and_double_dead_letters_are_flagged() -> None:
    """A record expected processed but dead-lettered twice: one wrong, one duplicate delivery."""
    published = [Published(0, 0, Record(b"v", expect="processed"))]
    ledger = _account([_input(0, 0)], [], [_letter(0, 0), _letter(0, 0)], published)

    assert ledger.wrongly_dead_lettered == 1
    assert ledger.duplicate_deliveries == 1
    assert "1 valid records dead-lettered" in ledger.problems


def test_processed_and_dead_lettered_is_a_problem() -> None:
    """A record both stored and dead-lettered is reported."""
    ledger = _account([_input(0, 0)], [_row(0, 0, "stored")], [_letter(0, 0)], [])

    assert ledger.problems == ["1 x replayed both processed and dead-lettered"]


def _out(offset: int, ce_id: str, user: str, value: bytes = b"{}") -> KafkaRecord:
    headers = (("ce_id", ce_id.encode()), ("ce_type", b"t"))
    return KafkaRecord(0, offset, user.encode(), value, headers)


def _outbox(event_id: str, user: str) -> dict[str, Any]:
    return {"event_id": event_id, "topic": OUT, "user_id": user}


def test_output_duplicates_conflicts_order_and_poison() -> None:
    """Same id twice is a duplicate, with other content a conflict; order follows the outbox."""
    output = [
        _out(0, "b", "u1"),
        _out(1, "a", "u1"),
        _out(2, "a", "u1"),
        _out(3, "c", "u2"),
        _out(4, "c", "u2", b"other"),
        _out(5, "p", "u2"),
    ]
    outbox = [
        _outbox("a", "u1"),
        _outbox("b", "u1"),
        _outbox("c", "u2"),
        _outbox("d", "u2"),
        _outbox("p", "u2"),
    ]
    ledger = Ledger()
    _check_output(ledger, output, outbox, OUT, frozenset({"p"}))

    assert ledger.duplicate_deliveries == 2
    assert ledger.conflicting_ids == 1
    assert ledger.out_of_order_users == 1
    assert ledger.undelivered_derived == 1
    assert "1 poison outbox rows were delivered" in ledger.problems


def test_a_snapshot_equal_to_the_previous_one_is_a_duplicate() -> None:
    """Consecutive equal content hashes of one user count; a change back and forth does not."""
    snapshots = [
        {"user_id": "u1", "content_hash": b"1"},
        {"user_id": "u1", "content_hash": b"1"},
        {"user_id": "u2", "content_hash": b"1"},
        {"user_id": "u2", "content_hash": b"2"},
        {"user_id": "u2", "content_hash": b"1"},
    ]
    ledger = Ledger()
    _check_snapshots(ledger, snapshots)

    assert ledger.duplicate_snapshots == 1


def test_a_published_record_not_read_back_is_lost() -> None:
    """A record the broker acknowledged but the reader never returned (a decoding that drops
    it) counts as lost under its kind, not as never published."""
    published = [
        Published(0, 0, Record(b"v", kind="valid")),
        Published(0, 1, Record(b"v", kind="header_key_not_utf8", expect="dead_lettered")),
    ]
    ledger = _account([_input(0, 0)], [_row(0, 0, "stored")], [], published)

    assert (ledger.stored, ledger.lost) == (1, 1)
    assert ledger.lost_kinds == {"header_key_not_utf8 (not read back)": 1}
