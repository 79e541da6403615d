"""Fetched record batches with a header key that is not UTF-8: aiokafka's own decoding fails on
them, the service's decodes every record of the batch and keeps the key's bytes."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka.consumer import fetcher
from aiokafka.errors import CorruptRecordException
from aiokafka.record.default_records import _DefaultRecordBatchPy
from aiokafka.record.memory_records import MemoryRecords
from aiokafka.structs import TopicPartition

from reliability.publish import RawRecord, record_batch
from service.record_batches import LenientMemoryRecords, install, lenient_records

BAD_KEY = b"trace-\xff\xfe-id"
RECORDS: list[RawRecord] = [
    (b"user-1", b'{"n": 1}', [("traceparent", b"00-ab"), ("x-null", None)]),
    (b"user-2", b'{"n": 2}', [("ok", b"1"), (BAD_KEY, b"\x00binary")]),
    (None, None, []),
    (b"user-3", b'{"n": 3}', [("ce_id", b"\xff\xfe")]),
]


def _fields(record: Any) -> tuple[Any, ...]:
    return (
        record.offset,
        record.timestamp,
        record.timestamp_type,
        record.key,
        record.value,
        list(record.headers),
    )


def _batches(records: Any) -> list[list[tuple[Any, ...]]]:
    out = []
    while records.has_next():
        out.append([_fields(r) for r in records.next_batch()])
    return out


def test_aiokafka_itself_fails_on_the_whole_batch() -> None:
    """aiokafka's compiled and pure-Python decoders both raise at the record whose header key
    is not UTF-8 (the reason `service.record_batches` exists)."""
    data = bytes(record_batch(RECORDS))
    with pytest.raises((UnicodeDecodeError, CorruptRecordException)):  # compiled, or not
        _batches(MemoryRecords(data))
    with pytest.raises(CorruptRecordException):
        list(_DefaultRecordBatchPy(data))


@pytest.mark.parametrize("gzip", [False, True])
def test_every_record_of_the_batch_is_decoded_and_the_key_keeps_its_bytes(gzip: bool) -> None:
    """All four records come out in order with their keys, values and header values as
    written; the bad header key is text that is not UTF-8 and gives back its exact bytes."""
    data = bytes(record_batch(RECORDS, gzip=gzip))
    [records] = _batches(LenientMemoryRecords(data))

    assert [r[0] for r in records] == [0, 1, 2, 3]
    assert [(r[3], r[4]) for r in records] == [(key, value) for key, value, _ in RECORDS]
    assert records[0][5] == [("traceparent", b"00-ab"), ("x-null", None)]
    assert records[3][5] == [("ce_id", b"\xff\xfe")]
    [(ok, one), (bad, bad_value)] = records[1][5]
    assert (ok, one, bad_value) == ("ok", b"1", b"\x00binary")
    with pytest.raises(UnicodeEncodeError):
        bad.encode("utf-8")
    assert bad.encode("utf-8", "surrogateescape") == BAD_KEY


def test_a_valid_batch_is_decoded_exactly_as_aiokafka_decodes_it() -> None:
    """Without a bad key, the lenient path and the Python fallback both give aiokafka's own
    records, field for field (offsets, timestamps, keys, values, headers)."""
    valid = [r for r in RECORDS if not any(isinstance(k, bytes) for k, _ in r[2])]
    for gzip in (False, True):
        data = bytes(record_batch(valid, gzip=gzip))
        expected = _batches(MemoryRecords(data))

        assert _batches(LenientMemoryRecords(data)) == expected
        assert [[_fields(r) for r in lenient_records(data)]] == expected


def test_several_batches_and_a_partial_one_at_the_end() -> None:
    """Batches follow one another; a partial batch at the end of a fetch is not returned
    (the fetcher asks for it again), as aiokafka's own MemoryRecords does."""
    first, second = bytes(record_batch(RECORDS[:2])), bytes(record_batch(RECORDS[2:]))
    data = first + second + second[:20]
    batches = _batches(LenientMemoryRecords(data))

    assert [len(b) for b in batches] == [2, 2]
    assert LenientMemoryRecords(data).size_in_bytes() == len(data)


def test_a_malformed_batch_is_a_corrupt_record_error() -> None:
    """A batch that is broken (a record cut short) raises CorruptRecordException, aiokafka's
    error for it, from the lenient decoder too."""
    data = bytes(record_batch(RECORDS))[:-3]  # the last record's fields run past the batch

    with pytest.raises(CorruptRecordException):
        lenient_records(data)


def test_the_fetcher_hands_out_every_record_once_installed() -> None:
    """Installed, aiokafka's own fetcher (its PartitionRecords) yields all four records as
    ConsumerRecords and moves its position past the batch."""
    install()
    install()  # idempotent
    assert fetcher.MemoryRecords is LenientMemoryRecords
    tp = TopicPartition("in", 0)
    records = fetcher.PartitionRecords(
        tp,
        fetcher.MemoryRecords(bytes(record_batch(RECORDS))),
        [],
        0,
        None,
        None,
        True,  # check CRCs: the batch is whole
        fetcher.READ_UNCOMMITTED,
    )
    consumed = list(records)

    assert [(r.offset, r.value) for r in consumed] == [(i, RECORDS[i][1]) for i in range(4)]
    assert records.next_fetch_offset == 4
