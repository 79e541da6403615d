"""`replay-dlq`: re-publish dead letters to the input topic, filtered, once the cause is fixed.

Reads the dead-letter topic from the beginning (or, with `--group-id`, from that group's
committed offsets, committing what it replayed) up to the end offsets taken when it starts, so
it always ends. A matching record goes back with its original key, value and headers, minus
the dlq_* headers, through an idempotent producer; a run that publishes writes an audit row.
`--dry-run` publishes nothing and prints where each match is and its error class: never the
value (it may hold personal data).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections.abc import Sequence
from typing import Any

from service.privacy.actor import operator
from service.privacy.audit import REPLAY_DLQ
from service.settings import Settings
from service.tools.common import EXIT_OK, guarded, load_settings
from service.tools.database_io import audit_tool_run
from service.tools.dead_letters import DeadLetter, Filters, dry_run_lines, iso_time, summary


async def _scan(
    consumer: Any,
    topic: str,
    partitions: list[int],
    *,
    from_start: bool,
    filters: Filters,
    limit: int | None,
) -> tuple[int, list[DeadLetter]]:
    """Read up to the end offsets taken now; how many records were read, and the matches."""
    from aiokafka import TopicPartition  # noqa: PLC0415
    from tqdm import tqdm  # noqa: PLC0415

    tps = [TopicPartition(topic, p) for p in sorted(partitions)]
    consumer.assign(tps)
    end = await consumer.end_offsets(tps)
    if from_start:
        await consumer.seek_to_beginning(*tps)
    start = {tp: await consumer.position(tp) for tp in tps}
    remaining = {tp for tp in tps if start[tp] < end[tp]}
    matches: list[DeadLetter] = []
    scanned = 0
    total = sum(max(0, end[tp] - start[tp]) for tp in tps)
    with tqdm(total=total, unit="record", file=sys.stderr, disable=None) as bar:
        while remaining and (limit is None or len(matches) < limit):
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset >= end[tp] or (limit is not None and len(matches) >= limit):
                        break
                    scanned += 1
                    bar.update(1)
                    letter = DeadLetter(
                        topic=record.topic,
                        partition=record.partition,
                        offset=record.offset,
                        key=record.key,
                        value=record.value,
                        headers=tuple(record.headers or ()),
                    )
                    if filters.match(letter):
                        matches.append(letter)
            for tp in list(remaining):
                # Positions, not offsets seen: aborted transactions and compaction leave gaps.
                if await consumer.position(tp) >= end[tp]:
                    remaining.discard(tp)
    return scanned, matches


async def _publish(producer: Any, target: str, letters: Sequence[DeadLetter]) -> None:
    from tqdm import tqdm  # noqa: PLC0415

    with tqdm(total=len(letters), unit="record", file=sys.stderr, disable=None) as bar:
        for letter in letters:
            await producer.send_and_wait(
                target, letter.value, key=letter.key, headers=letter.original_headers()
            )
            bar.update(1)


async def _commit(consumer: Any, letters: Sequence[DeadLetter]) -> None:
    """Commit, per partition, past the last replayed dead letter."""
    from aiokafka import TopicPartition  # noqa: PLC0415
    from aiokafka.structs import OffsetAndMetadata  # noqa: PLC0415

    last: dict[Any, int] = {}
    for letter in letters:
        tp = TopicPartition(letter.topic, letter.partition)
        last[tp] = max(last.get(tp, -1), letter.offset)
    await consumer.commit({tp: OffsetAndMetadata(offset + 1, "") for tp, offset in last.items()})


async def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from service.tools.kafka_io import (  # noqa: PLC0415
        idempotent_producer,
        reader,
        topic_partitions,
    )

    source = args.dlq_topic or settings.kafka_dlq_topic
    target = args.to_topic or settings.kafka_input_topic
    filters = Filters(
        error_classes=frozenset(args.error_class or ()),
        since=args.since,
        user_id=args.user_id.lower() if args.user_id else None,
    )
    partitions = await topic_partitions(settings, source)
    async with reader(settings, group_id=args.group_id) as consumer:
        scanned, matches = await _scan(
            consumer,
            source,
            partitions,
            from_start=args.group_id is None,
            filters=filters,
            limit=args.limit,
        )
        if args.dry_run:
            print("\n".join(dry_run_lines(matches)))
            print(f"scanned {scanned} record(s) of {source}; nothing published")
            return EXIT_OK
        async with idempotent_producer(settings) as producer:
            await _publish(producer, target, matches)
        if args.group_id is not None and matches:
            await _commit(consumer, matches)
    await audit_tool_run(
        settings,
        action=REPLAY_DLQ,
        actor=operator(args.actor),
        request_id=f"cli:{uuid.uuid4()}",
        counts={"scanned": scanned, "replayed": len(matches)},
        reason=f"{source} -> {target}",
    )
    print(summary(matches, scanned, source, target))
    return EXIT_OK


@guarded
def cmd_replay_dlq(args: argparse.Namespace) -> int:
    """Re-publish (filtered) dead letters to the input topic, without the dlq_* headers."""
    settings = load_settings(need_alice=False)
    return asyncio.run(_replay(args, settings))


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `replay-dlq` command."""
    parser = commands.add_parser("replay-dlq", help=cmd_replay_dlq.__doc__, description=__doc__)
    parser.add_argument(
        "--error-class",
        action="append",
        metavar="CLASS",
        help="replay only this dlq_error_class (repeatable)",
    )
    parser.add_argument(
        "--since", type=iso_time, metavar="TIME", help="only dead letters failed at or after TIME"
    )
    parser.add_argument("--user-id", metavar="UUID", help="only this user's dead letters")
    parser.add_argument("--limit", type=_positive, metavar="N", help="replay at most N records")
    parser.add_argument("--dlq-topic", help="source topic (default: KAFKA_DLQ_TOPIC)")
    parser.add_argument("--to-topic", help="target topic (default: KAFKA_INPUT_TOPIC)")
    parser.add_argument(
        "--group-id",
        help="read from this group's committed offsets and commit what was replayed "
        "(default: from the beginning, committing nothing)",
    )
    parser.add_argument("--dry-run", action="store_true", help="list matches; publish nothing")
    parser.add_argument("--actor", help="who runs it, for the audit row (default: the OS user)")
    parser.set_defaults(func=cmd_replay_dlq)


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return number
