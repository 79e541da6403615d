"""`backfill`: publish onboarding-completed events for a list of user ids.

The ids come from a file or stdin (`--file -`), one per line; blank lines and `#` comments are
ignored. Every line is validated as a UUID before anything is published: invalid lines are
reported with their line numbers and make the run fail (exit 1) unless `--skip-invalid`. Each
event is `{"user_id", "event_id": "backfill:<uuid>:<run id>", "occurred_at": now}`, keyed by the
user id; re-running with the same `--run-id` repeats the same event ids, which the inbox skips.
A run that publishes writes an audit row (request id `backfill:<run id>`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from service.privacy.actor import operator
from service.privacy.audit import BACKFILL
from service.settings import Settings
from service.tools.common import (
    EXIT_FAILED,
    EXIT_OK,
    ToolFailed,
    guarded,
    load_settings,
)
from service.tools.database_io import audit_tool_run

MAX_SHOWN_CHARS = 40
BATCH = 500  # sends awaited together: throughput without unbounded memory


@dataclass
class UserIds:
    """The outcome of reading a list of user ids."""

    valid: list[str] = field(default_factory=list)
    invalid: list[tuple[int, str]] = field(default_factory=list)
    duplicates: int = 0


def parse_user_ids(lines: Iterable[str]) -> UserIds:
    """Canonical user ids in order (duplicates dropped) and the invalid lines by number."""
    result = UserIds()
    seen: set[str] = set()
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            user_id = str(uuid.UUID(text))
        except ValueError:
            shown = text if len(text) <= MAX_SHOWN_CHARS else text[:MAX_SHOWN_CHARS] + "..."
            result.invalid.append((number, f"{shown!r} is not a UUID"))
            continue
        if user_id in seen:
            result.duplicates += 1
            continue
        seen.add(user_id)
        result.valid.append(user_id)
    return result


def backfill_event(user_id: str, run_id: str, now: datetime) -> dict[str, str]:
    """The onboarding-completed event a backfill publishes for one user."""
    return {
        "user_id": user_id,
        "event_id": f"backfill:{user_id}:{run_id}",
        "occurred_at": now.astimezone(UTC).isoformat(),
    }


def input_file(value: str) -> str:
    """argparse type: `-` or the path of an existing readable file."""
    if value != "-" and not Path(value).is_file():
        raise argparse.ArgumentTypeError(f"no such file: {value}")
    return value


def _read_lines(path: str) -> list[str]:
    if path == "-":
        return sys.stdin.read().splitlines()
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ToolFailed(f"cannot read {path}: {exc}") from None


async def _publish(settings: Settings, topic: str, events: list[dict[str, str]]) -> None:
    from tqdm import tqdm  # noqa: PLC0415 - keep `--help` and dry runs fast

    from service.tools.kafka_io import idempotent_producer  # noqa: PLC0415

    async with idempotent_producer(settings) as producer:
        with tqdm(total=len(events), unit="event", file=sys.stderr, disable=None) as bar:
            pending = []
            for event in events:
                value = json.dumps(event, separators=(",", ":")).encode()
                pending.append(await producer.send(topic, value, key=event["user_id"].encode()))
                if len(pending) >= BATCH:
                    await asyncio.gather(*pending)
                    bar.update(len(pending))
                    pending.clear()
            await asyncio.gather(*pending)
            bar.update(len(pending))


def _report_invalid(ids: UserIds, out: TextIO) -> None:
    for number, problem in ids.invalid:
        print(f"line {number}: {problem}", file=out)


@guarded
def cmd_backfill(args: argparse.Namespace) -> int:
    """Publish onboarding-completed events for user ids read from a file or stdin."""
    settings = load_settings(need_alice=False)
    topic = args.topic or settings.kafka_input_topic
    ids = parse_user_ids(_read_lines(args.file))
    _report_invalid(ids, sys.stderr)
    if ids.invalid and not args.skip_invalid:
        print(
            f"error: {len(ids.invalid)} invalid line(s); nothing published "
            "(fix them or pass --skip-invalid)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    now = datetime.now(UTC)
    events = [backfill_event(user_id, args.run_id, now) for user_id in ids.valid]
    summary = (
        f"{len(events)} event(s) to {topic}, run id {args.run_id}, "
        f"{len(ids.invalid)} invalid line(s) skipped, {ids.duplicates} duplicate(s) skipped"
    )
    if args.dry_run:
        for event in events:
            print(f"would publish user_id={event['user_id']} event_id={event['event_id']}")
        print(f"dry run: would publish {summary}")
        return EXIT_OK
    asyncio.run(_publish(settings, topic, events))
    asyncio.run(
        audit_tool_run(
            settings,
            action=BACKFILL,
            actor=operator(args.actor),
            request_id=f"backfill:{args.run_id}",
            counts={
                "published": len(events),
                "invalid": len(ids.invalid),
                "duplicates": ids.duplicates,
            },
            reason=topic,
        )
    )
    print(f"published {summary}")
    return EXIT_OK


def default_run_id() -> str:
    """A run id from the current UTC time, e.g. 20250102T030405Z."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `backfill` command."""
    parser = commands.add_parser("backfill", help=cmd_backfill.__doc__, description=__doc__)
    parser.add_argument(
        "--file", required=True, type=input_file, metavar="PATH", help="user ids; `-` for stdin"
    )
    parser.add_argument("--topic", help="target topic (default: KAFKA_INPUT_TOPIC)")
    parser.add_argument(
        "--run-id",
        default=default_run_id(),
        help="part of every event id; reuse it to make a re-run a no-op (default: UTC time)",
    )
    parser.add_argument(
        "--skip-invalid", action="store_true", help="publish the valid ids even if some are not"
    )
    parser.add_argument("--dry-run", action="store_true", help="print what would be published")
    parser.add_argument("--actor", help="who runs it, for the audit row (default: the OS user)")
    parser.set_defaults(func=cmd_backfill)
