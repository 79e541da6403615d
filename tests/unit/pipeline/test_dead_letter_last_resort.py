"""The dead-letter path's last resort: whatever a message holds, its dead letter can be stored,
so no message is ever abandoned (which would freeze its partition's committed offset)."""

from __future__ import annotations

from typing import Any, cast

from prometheus_client import CollectorRegistry

from service.alice import ReportSource
from service.batcher import WriteBatcher
from service.errors import InvalidInputEvent, StorageRejected
from service.ingest import DEAD_LETTERED, DeadLetter, Ingest, Recorded
from service.metrics import Metrics
from service.processor import Intake, Processor, RetryPolicy
from service.recovery import Health
from service.scheduler import InboundRecord, Work


class PickyIngest:
    """Refuses any dead letter that still holds bytes the message brought (as PostgreSQL
    refuses a value it cannot store), and records what it finally accepted."""

    def __init__(self, refuse: int) -> None:
        self.refuse = refuse
        self.tried: list[DeadLetter] = []

    async def dead_letter(self, letter: DeadLetter) -> Recorded:
        self.tried.append(letter)
        if len(self.tried) <= self.refuse:
            raise StorageRejected("database refused the data: DataError (22021)")
        return Recorded(DEAD_LETTERED)


def _processor(ingest: PickyIngest) -> Processor:
    return Processor(
        source=cast("ReportSource", None),
        ingest=cast("Ingest", ingest),
        batcher=cast("WriteBatcher", None),
        retry=RetryPolicy(max_attempts=3, initial_s=0.01, max_s=0.02),
        metrics=Metrics(CollectorRegistry()),
        health=Health(),
        on_attempt=lambda: None,
        on_committed=lambda: None,
    )


def _invalid_work() -> Work:
    record = InboundRecord(
        topic="in",
        partition=2,
        offset=41,
        key=b"\x00key",
        value=b"\x00\xff value",
        headers=(("odd", b"\x00\xff"),),
        timestamp=1_700_000_000_000,
    )
    return Work(record, "invalid:in:2:41", Intake(None, InvalidInputEvent("not JSON")))


async def test_a_refused_dead_letter_is_stored_without_headers_then_as_digests() -> None:
    """Refused twice, the dead letter is stored a third time with digests in place of the key
    and value, under the record's position id: the message ends dead-lettered."""
    ingest = PickyIngest(refuse=2)
    await _processor(ingest)(_invalid_work())
    first, second, last = ingest.tried
    assert first.headers == (("odd", b"\x00\xff"),)
    assert second.headers == ()
    assert last.ref.message_id == "offset:in:2:41@1700000000000"
    assert last.value is not None
    assert last.value.startswith(b"sha256:")
    assert last.key is not None
    assert last.key.startswith(b"sha256:")
    assert last.error.code == "invalid_input"


async def test_a_dead_letter_accepted_at_once_keeps_everything() -> None:
    """The simplifications are a last resort only: a storable dead letter keeps its bytes."""
    ingest = PickyIngest(refuse=0)
    await _processor(ingest)(_invalid_work())
    (only,) = ingest.tried
    assert only.value == b"\x00\xff value"
    assert only.headers == (("odd", b"\x00\xff"),)


def test_reasons_are_storable_text_wherever_they_come_from() -> None:
    """An error reason that quotes hostile text loses control characters and its tail."""
    reason: Any = InvalidInputEvent("field\x00name\n" + "x" * 1000).reason
    assert "\x00" not in reason
    assert "\n" not in reason
    assert len(reason) <= 300
