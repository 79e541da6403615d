"""Fetched record batches with a header key that is not UTF-8: decoded, never fatal.

Why aiokafka cannot do it: a Kafka header key is a protocol STRING, and aiokafka decodes it
with strict UTF-8 inside its record batch decoder (the compiled `aiokafka.record._crecords`
raises `UnicodeDecodeError`; the pure-Python one the same, wrapped in
`CorruptRecordException`). There is no option for another decoding and no error per record: the
exception leaves `AIOKafkaConsumer.getmany` for the whole fetch, the records of that fetch that
were decoded already are dropped (the fetcher moved its position past them), and every later
fetch of the partition starts at the bad record and raises again. FastStream's consume loop
catches only `KafkaError`, so `UnicodeDecodeError` ends it: nothing is consumed any more, on any
partition (with the pure-Python decoder the loop logs and retries every 5 s: stuck all the
same). Producers other than Java's can write such keys (librdkafka takes bytes), and Java
consumers read them leniently.

So the fetcher's `MemoryRecords` (what it wraps each partition's fetched bytes in) is replaced
by `LenientMemoryRecords`: the same framing, the same compiled batches, with each v2 batch's
records decoded at once; only when that raises for a header key is the batch decoded again, here
in Python, with every header key decoded with `surrogateescape`. Such a key keeps its bytes
(`key.encode("utf-8", "surrogateescape")`) and can never pass for UTF-8 text, which is how
`parse_input` knows the record and dead-letters it (`header_key_not_utf8`); the partition
moves on as after any dead letter. Valid records cost one list per batch, nothing per record.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from typing import Any

import structlog
from aiokafka import codec
from aiokafka.consumer import fetcher
from aiokafka.errors import CorruptRecordException
from aiokafka.record import memory_records
from aiokafka.record.default_records import DefaultRecord, DefaultRecordBatch
from aiokafka.record.legacy_records import LegacyRecordBatch
from aiokafka.record.util import decode_varint

log = structlog.get_logger(__name__)

# The framing of a fetched record set (every magic): BaseOffset Int64, Length Int32, ...
_LENGTH = struct.Struct(">i")
_LOG_OVERHEAD = 12
_MAGIC_OFFSET = 16
_MIN_SLICE = _LOG_OVERHEAD + 14  # the smallest legacy (v0) record, as aiokafka checks
# A v2 batch header: BaseOffset, Length, PartitionLeaderEpoch, Magic, CRC, Attributes,
# LastOffsetDelta, FirstTimestamp, MaxTimestamp, ProducerId, ProducerEpoch, BaseSequence, Count.
_V2_HEADER = struct.Struct(">qiibIhiqqqhii")
_LOG_APPEND_TIME = 1
_DECOMPRESS: dict[int, Callable[[bytes], bytes]] = {
    1: codec.gzip_decode,
    2: codec.snappy_decode,
    3: codec.lz4_decode,
    4: codec.zstd_decode,
}


class LenientMemoryRecords:
    """aiokafka's `MemoryRecords` (same interface), whose v2 batches survive a header key that
    is not UTF-8."""

    def __init__(self, bytes_data: bytes) -> None:
        self._buffer = bytes_data
        self._pos = 0

    def size_in_bytes(self) -> int:
        """The size of the fetched bytes."""
        return len(self._buffer)

    def _next_end(self) -> int | None:
        if len(self._buffer) - self._pos < _LOG_OVERHEAD:
            return None
        (length,) = _LENGTH.unpack_from(self._buffer, self._pos + 8)
        end = self._pos + _LOG_OVERHEAD + length
        return end if end <= len(self._buffer) else None  # a partial batch at the end

    def has_next(self) -> bool:
        """Whether a whole batch follows."""
        return self._next_end() is not None

    def next_batch(self) -> Any:
        """The next batch, or None."""
        end = self._next_end()
        if end is None:
            return None
        data = memoryview(self._buffer)[self._pos : end]
        self._pos = end
        if len(data) < _MIN_SLICE:
            raise CorruptRecordException("record set smaller than the minimum record overhead")
        magic = data[_MAGIC_OFFSET]
        if magic >= 2:
            return _LenientBatch(DefaultRecordBatch(data), data)
        return LegacyRecordBatch(data, magic)  # v0/v1 records have no headers


class _LenientBatch:
    """A v2 batch (attributes as aiokafka's own) whose iteration decodes every record at once,
    decoding the batch again leniently when a header key is not UTF-8."""

    __slots__ = ("_batch", "_data")

    def __init__(self, batch: Any, data: memoryview) -> None:
        self._batch = batch
        self._data = data

    def __getattr__(self, name: str) -> Any:
        return getattr(self._batch, name)

    def __next__(self) -> Any:  # the fetcher reads a control batch's marker with next()
        return next(self._batch)

    def __iter__(self) -> Iterator[Any]:
        try:
            records = list(self._batch)
        except (UnicodeDecodeError, CorruptRecordException) as error:
            if not _header_key_error(error):
                raise
            records = lenient_records(bytes(self._data))
            log.warning(
                "a fetched record has a header key that is not UTF-8; decoded it leniently",
                base_offset=self._batch.base_offset,
                records=len(records),
            )
        return iter(records)


def _header_key_error(error: Exception) -> bool:
    """Whether the batch decoder failed on a header key: the only text a v2 record holds."""
    return isinstance(error, UnicodeDecodeError) or isinstance(error.__cause__, UnicodeDecodeError)


def lenient_records(data: bytes) -> list[Any]:
    """Every record of one v2 batch, header keys decoded with `surrogateescape`.

    The record layout (Kafka's DefaultRecord): Length, Attributes, TimestampDelta, OffsetDelta,
    Key, Value as varints and bytes, then the headers: a count, and per header a key (STRING)
    and a value (NULLABLE_BYTES). Raises CorruptRecordException for a malformed batch.
    """
    try:
        return _decode(data)
    except (ValueError, IndexError, struct.error) as error:
        raise CorruptRecordException(f"invalid record batch: {type(error).__name__}") from error


def _decode(data: bytes) -> list[Any]:
    header = _V2_HEADER.unpack_from(data)
    base_offset, attributes, first_ts, max_ts, count = (
        header[0],
        header[5],
        header[7],
        header[8],
        header[12],
    )
    timestamp_type = (attributes >> 3) & 1
    body: bytes | bytearray = data[_V2_HEADER.size :]
    compression = attributes & 0x07
    if compression:
        body = _DECOMPRESS[compression](bytes(body))
    buffer = bytearray(body)
    records: list[Any] = []
    pos = 0
    for _ in range(count):
        length, pos = decode_varint(buffer, pos)
        end = pos + length
        _, pos = decode_varint(buffer, pos)  # attributes: unused
        ts_delta, pos = decode_varint(buffer, pos)
        offset_delta, pos = decode_varint(buffer, pos)
        key, pos = _nullable_bytes(buffer, pos)
        value, pos = _nullable_bytes(buffer, pos)
        header_count, pos = decode_varint(buffer, pos)
        headers: list[tuple[str, bytes | None]] = []
        for _ in range(header_count):
            raw_key, pos = _nullable_bytes(buffer, pos)
            if raw_key is None:
                raise ValueError("null header key")
            header_value, pos = _nullable_bytes(buffer, pos)
            headers.append((raw_key.decode("utf-8", "surrogateescape"), header_value))
        if pos != end:
            raise ValueError("record length mismatch")
        timestamp = max_ts if timestamp_type == _LOG_APPEND_TIME else first_ts + ts_delta
        records.append(
            DefaultRecord(
                base_offset + offset_delta, timestamp, timestamp_type, key, value, headers
            )
        )
    return records


def _nullable_bytes(buffer: bytearray, pos: int) -> tuple[bytes | None, int]:
    length, pos = decode_varint(buffer, pos)
    if length < 0:
        return None, pos
    if pos + length > len(buffer):
        raise ValueError("field runs past the batch")
    return bytes(buffer[pos : pos + length]), pos + length


def install() -> None:
    """Make aiokafka's fetcher use `LenientMemoryRecords` (idempotent; for the whole process).

    Fails at startup, not at the first bad record, if aiokafka no longer fetches through the
    name this replaces (an upgrade must look at this module again).
    """
    current = getattr(fetcher, "MemoryRecords", None)
    if current is LenientMemoryRecords:
        return
    if current is not memory_records.MemoryRecords:
        raise RuntimeError("aiokafka's fetcher no longer uses MemoryRecords: see record_batches")
    fetcher.MemoryRecords = LenientMemoryRecords
