"""Dead letters as the replay tool sees them: what they hold, which ones match, what to print.

Pure: no Kafka here, so the filters and the dry-run output are unit-tested without a broker.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from service.messages import DLQ_ERROR_CLASS, DLQ_FAILED_AT, DLQ_HEADERS, dead_letter_info


@dataclass(frozen=True)
class DeadLetter:
    """One record of the dead-letter topic, as read."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    @property
    def info(self) -> dict[str, str]:
        """The decoded dlq_* headers."""
        return dead_letter_info(dict(self.headers))

    @property
    def error_class(self) -> str:
        """The error class it was dead-lettered with (`unknown` without the header)."""
        return self.info.get(DLQ_ERROR_CLASS, "unknown")

    def original_headers(self) -> list[tuple[str, bytes]]:
        """The headers it had before it was dead-lettered."""
        return [(k, v) for k, v in self.headers if k not in DLQ_HEADERS]

    def user_id(self) -> str | None:
        """The user id: the record key, else the value's `user_id` (None if neither)."""
        if self.key:
            return self.key.decode("utf-8", "replace")
        try:
            document = json.loads(self.value or b"")
        except ValueError:
            return None
        found = document.get("user_id") if isinstance(document, dict) else None
        return str(found) if found is not None else None


@dataclass(frozen=True)
class Filters:
    """Which dead letters to replay; an unset filter matches everything."""

    error_classes: frozenset[str] = frozenset()
    since: datetime | None = None
    user_id: str | None = None

    def match(self, letter: DeadLetter) -> bool:
        """Whether the dead letter passes every filter."""
        if self.error_classes and letter.error_class not in self.error_classes:
            return False
        if self.user_id is not None and (letter.user_id() or "").lower() != self.user_id:
            return False
        if self.since is not None:
            failed_at = _parse_time(letter.info.get(DLQ_FAILED_AT, ""))
            if failed_at is None or failed_at < self.since:
                return False
        return True


def _parse_time(text: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def iso_time(value: str) -> datetime:
    """argparse type: an ISO 8601 time; without an offset it is taken as UTC."""
    parsed = _parse_time(value)
    if parsed is None:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value}")
    return parsed


def dry_run_lines(letters: Sequence[DeadLetter]) -> list[str]:
    """What a dry run prints: one line per match (where, error class), then counts by class."""
    lines = [
        f"would replay {d.topic}/{d.partition}/{d.offset} error_class={d.error_class}"
        for d in letters
    ]
    counts = Counter(d.error_class for d in letters)
    lines.append(f"dry run: {len(letters)} dead letter(s) would be replayed")
    lines.extend(f"  {name}: {count}" for name, count in sorted(counts.items()))
    return lines


def summary(letters: Sequence[DeadLetter], scanned: int, source: str, target: str) -> str:
    """The closing line of a replay."""
    counts = Counter(letter.error_class for letter in letters)
    by_class = ", ".join(f"{name}: {count}" for name, count in sorted(counts.items()))
    return (
        f"replayed {len(letters)} of {scanned} scanned dead letter(s) from {source} to {target}"
        + (f" ({by_class})" if by_class else "")
    )
