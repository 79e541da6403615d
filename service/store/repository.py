"""The repository: batched statements the ingest use case runs inside its transaction.

It never commits: the use case owns the transaction. Each method is one round trip for a whole
batch of messages (arrays unnested server-side), so a batch of 32 messages costs about as many
statements as one. The report is stored as the response body sealed by the use case (the
bytes Alice sent, encrypted: service/crypto/), and each user event sealed alone; the rows carry
clear only the typed columns that hold no personal data.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from service.derive import SnapshotDigest
from service.freshness import ReportOrder
from service.messages import headers_to_json


@dataclass(frozen=True, slots=True)
class MessageRef:
    """Where a message came from and the id the inbox deduplicates on."""

    message_id: str
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class UserRow:
    """The locked state of a user: the last snapshot's hash, digest and ordering facts, and
    the user's wrapped data key as stored now (None: the user has none yet)."""

    user_id: str
    last_content_hash: bytes | None
    digest: SnapshotDigest | None
    order: ReportOrder | None = None
    data_key: tuple[str, bytes] | None = None


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    """A snapshot to insert: typed columns plus the response body (sealed before writing)."""

    message_id: str
    user_id: str
    report_id: str
    state: str | None
    results: dict[str, str | None]
    face_liveness: float | None
    report_created_at: datetime | None
    content_hash: bytes
    body: bytes


@dataclass(frozen=True, slots=True)
class UserUpdate:
    """A user's new state after a stored snapshot (the message that stored it)."""

    user_id: str
    state: str | None
    content_hash: bytes
    digest_json: str
    message_id: str
    order: ReportOrder


@dataclass(frozen=True, slots=True)
class EventRow:
    """One of the report's user events: typed columns plus the event (sealed before writing)."""

    event_id: str
    user_id: str
    type: str
    occurred_on: datetime | None
    version: int | None
    body: bytes
    message_id: str


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A record to publish: derived CloudEvent or dead letter."""

    event_id: str
    topic: str
    key: bytes | None
    headers: list[tuple[str, bytes | None]]
    payload: bytes | None
    event_type: str
    user_id: str | None


async def known_message_ids(connection: AsyncConnection, message_ids: Sequence[str]) -> set[str]:
    """The ids among these that the inbox holds as processed (a dead letter may be replayed)."""
    result = await connection.execute(
        text(
            "SELECT message_id FROM inbox WHERE message_id = ANY(CAST(:ids AS text[]))"
            " AND outcome <> 'dead_lettered'"
        ),
        {"ids": list(message_ids)},
    )
    return {row[0] for row in result}


async def claim_messages(
    connection: AsyncConnection, refs: Sequence[MessageRef], user_ids: Sequence[str | None]
) -> set[str]:
    """Insert inbox rows; return the ids newly claimed (the others were processed before).

    A dead-lettered message's row is claimed again: a replay of it (`replay-dlq`, once the
    cause is fixed) must be processed. The original record redelivered after a crash is not
    dead-lettered twice: `quarantine` keeps one dead letter per record.
    """
    result = await connection.execute(
        text(
            'INSERT INTO inbox (message_id, topic, partition, "offset", user_id, outcome)'
            " SELECT m, t, p, o, u, 'processing' FROM unnest(CAST(:m AS text[]),"
            " CAST(:t AS text[]), CAST(:p AS int[]), CAST(:o AS bigint[]), CAST(:u AS uuid[]))"
            " AS x(m, t, p, o, u) ON CONFLICT (message_id) DO UPDATE SET topic = EXCLUDED.topic,"
            ' partition = EXCLUDED.partition, "offset" = EXCLUDED."offset",'
            " user_id = EXCLUDED.user_id, outcome = 'processing', snapshot_id = NULL,"
            " processed_at = now() WHERE inbox.outcome = 'dead_lettered' RETURNING message_id"
        ),
        {
            "m": [r.message_id for r in refs],
            "t": [r.topic for r in refs],
            "p": [r.partition for r in refs],
            "o": [r.offset for r in refs],
            "u": list(user_ids),
        },
    )
    return {row[0] for row in result}


async def lock_users(connection: AsyncConnection, user_ids: Sequence[str]) -> dict[str, UserRow]:
    """Create missing user rows and lock all of them, in id order (no deadlocks)."""
    ordered = sorted(set(user_ids))
    await connection.execute(
        text(
            "INSERT INTO users (user_id) SELECT unnest(CAST(:u AS uuid[]))"
            " ON CONFLICT (user_id) DO NOTHING"
        ),
        {"u": ordered},
    )
    result = await connection.execute(
        text(
            "SELECT u.user_id, u.last_content_hash, u.digest, u.report_version,"
            " u.report_created_at, u.report_last_event_at, u.report_events, k.kek_id, k.wrapped"
            " FROM users u LEFT JOIN data_keys k ON k.user_id = u.user_id"
            " WHERE u.user_id = ANY(CAST(:u AS uuid[])) ORDER BY u.user_id FOR UPDATE OF u"
        ),
        {"u": ordered},
    )
    rows = {}
    for user_id, content_hash, digest, version, created_at, last_event_at, events, *key in result:
        parsed = SnapshotDigest.model_validate(digest) if digest is not None else None
        state = parsed.state if parsed is not None else None
        facts = (version, created_at, last_event_at, events, state)
        order = ReportOrder(*facts) if any(f is not None for f in facts) else None
        data_key = (key[0], bytes(key[1])) if key[0] is not None else None
        rows[str(user_id)] = UserRow(str(user_id), content_hash, parsed, order, data_key)
    return rows


async def write_changes(
    connection: AsyncConnection,
    *,
    snapshots: Sequence[SnapshotRow],
    events: Sequence[EventRow],
    outbox: Sequence[OutboxRow],
    users: Sequence[UserUpdate],
    outcomes: Sequence[tuple[str, str]],
) -> dict[str, int]:
    """Snapshots, their user events, outbox rows, users' state and inbox outcomes: one statement.

    Data-modifying CTEs, so a batch costs one round trip however many messages it holds. The
    events and the users' last snapshot take the snapshot ids from the first CTE, matched by
    message id. Returns the new snapshots' ids by message id.
    """
    result = await connection.execute(
        text(
            "WITH s AS ("
            " INSERT INTO report_snapshots (user_id, report_id, state, selfie_security,"
            " document_security, document_read, process_security, face_liveness,"
            " report_created_at, content_hash, report_sealed, message_id)"
            " SELECT u, r, s, r1, r2, r3, r4, l, c, h, b, m"
            " FROM unnest(CAST(:su AS uuid[]), CAST(:sr AS uuid[]), CAST(:ss AS text[]),"
            " CAST(:s1 AS text[]), CAST(:s2 AS text[]), CAST(:s3 AS text[]),"
            " CAST(:s4 AS text[]), CAST(:sl AS numeric[]), CAST(:sc AS timestamptz[]),"
            " CAST(:sh AS bytea[]), CAST(:sb AS bytea[]), CAST(:sm AS text[]))"
            " AS x(u, r, s, r1, r2, r3, r4, l, c, h, b, m)"
            " RETURNING id, message_id),"
            " e AS ("
            " INSERT INTO user_events (event_id, user_id, type, occurred_on, version,"
            " event_sealed, first_snapshot_id)"
            " SELECT x.e, x.u, x.t, x.o, x.v, x.b, s.id"
            " FROM unnest(CAST(:ee AS text[]), CAST(:eu AS uuid[]), CAST(:et AS text[]),"
            " CAST(:eo AS timestamptz[]), CAST(:ev AS int[]), CAST(:eb AS bytea[]),"
            " CAST(:em AS text[])) AS x(e, u, t, o, v, b, m) JOIN s ON s.message_id = x.m"
            " ON CONFLICT (event_id) DO NOTHING),"
            " o AS ("
            " INSERT INTO outbox (event_id, topic, key, headers, payload, event_type, user_id)"
            " SELECT e, t, k, CAST(h AS jsonb), p, y, u FROM unnest(CAST(:oe AS uuid[]),"
            " CAST(:ot AS text[]), CAST(:ok AS bytea[]), CAST(:oh AS text[]),"
            " CAST(:op AS bytea[]), CAST(:oy AS text[]), CAST(:ou AS uuid[]))"
            " WITH ORDINALITY AS x(e, t, k, h, p, y, u, n) ORDER BY n"
            " ON CONFLICT (event_id) DO NOTHING),"
            " u AS ("
            " UPDATE users SET state = x.s, last_snapshot_id = s.id, last_content_hash = x.h,"
            " digest = CAST(x.d AS jsonb), updated_at = now(), report_version = x.rv,"
            " report_created_at = x.rc, report_last_event_at = x.rl, report_events = x.re"
            " FROM unnest(CAST(:uu AS uuid[]), CAST(:us AS text[]), CAST(:uh AS bytea[]),"
            " CAST(:ud AS text[]), CAST(:um AS text[]), CAST(:rv AS int[]),"
            " CAST(:rc AS timestamptz[]), CAST(:rl AS timestamptz[]), CAST(:re AS int[]))"
            " AS x(u, s, h, d, m, rv, rc, rl, re)"
            " JOIN s ON s.message_id = x.m WHERE users.user_id = x.u),"
            " i AS ("
            " UPDATE inbox SET outcome = x.o, snapshot_id = s.id"
            " FROM unnest(CAST(:im AS text[]), CAST(:io AS text[])) AS x(m, o)"
            " LEFT JOIN s ON s.message_id = x.m WHERE inbox.message_id = x.m)"
            " SELECT message_id, id FROM s"
        ),
        {
            "su": [r.user_id for r in snapshots],
            "sr": [r.report_id for r in snapshots],
            "ss": [r.state for r in snapshots],
            "s1": [r.results.get("selfie_security") for r in snapshots],
            "s2": [r.results.get("document_security") for r in snapshots],
            "s3": [r.results.get("document_read") for r in snapshots],
            "s4": [r.results.get("process_security") for r in snapshots],
            "sl": [r.face_liveness for r in snapshots],
            "sc": [r.report_created_at for r in snapshots],
            "sh": [r.content_hash for r in snapshots],
            "sb": [r.body for r in snapshots],
            "sm": [r.message_id for r in snapshots],
            "ee": [e.event_id for e in events],
            "eu": [e.user_id for e in events],
            "et": [e.type for e in events],
            "eo": [e.occurred_on for e in events],
            "ev": [e.version for e in events],
            "eb": [e.body for e in events],
            "em": [e.message_id for e in events],
            "oe": [r.event_id for r in outbox],
            "ot": [r.topic for r in outbox],
            "ok": [r.key for r in outbox],
            "oh": [_headers_json(r.headers) for r in outbox],
            "op": [r.payload for r in outbox],
            "oy": [r.event_type for r in outbox],
            "ou": [r.user_id for r in outbox],
            "uu": [u.user_id for u in users],
            "us": [u.state for u in users],
            "uh": [u.content_hash for u in users],
            "ud": [u.digest_json for u in users],
            "um": [u.message_id for u in users],
            "rv": [u.order.version for u in users],
            "rc": [u.order.created_at for u in users],
            "rl": [u.order.last_event_at for u in users],
            "re": [u.order.events for u in users],
            "im": [o[0] for o in outcomes],
            "io": [o[1] for o in outcomes],
        },
    )
    return {row[0]: row[1] for row in result}


def _headers_json(headers: Sequence[tuple[str, bytes | None]]) -> str:
    return json.dumps(headers_to_json(headers))


async def release_messages(connection: AsyncConnection, message_ids: Sequence[str]) -> None:
    """Forget inbox claims of messages that failed inside the batch (they are dead-lettered)."""
    if message_ids:
        await connection.execute(
            text("DELETE FROM inbox WHERE message_id = ANY(CAST(:m AS text[]))"),
            {"m": list(message_ids)},
        )


async def quarantine(connection: AsyncConnection, entry: dict[str, Any]) -> bool:
    """Keep what a dead-lettered message brought: its key, value and any report body
    (value and body sealed by the caller when `sealed_for` names the user whose key sealed them).

    Once per record (message id and where it was read): False when this record was
    dead-lettered before (redelivered after a crash), and nothing is written.
    """
    result = await connection.execute(
        text(
            'INSERT INTO quarantine (message_id, topic, partition, "offset", user_id,'
            " error_code, reason, input_key, input_value, report_body, sealed_for)"
            " VALUES (:message_id, :topic, :partition, :offset, :user_id, :error_code,"
            " :reason, :input_key, :input_value, :report_body, CAST(:sealed_for AS uuid))"
            ' ON CONFLICT (message_id, topic, partition, "offset") DO NOTHING RETURNING id'
        ),
        entry,
    )
    return result.first() is not None


async def mark_dead_lettered(
    connection: AsyncConnection, ref: MessageRef, user_id: str | None
) -> None:
    """The inbox row of a dead-lettered message (taking over its claim, if any).

    A message stored by another record with the same id keeps its `stored` row.
    """
    await connection.execute(
        text(
            'INSERT INTO inbox (message_id, topic, partition, "offset", user_id, outcome)'
            " VALUES (:m, :t, :p, :o, CAST(:u AS uuid), 'dead_lettered')"
            " ON CONFLICT (message_id) DO UPDATE SET topic = EXCLUDED.topic,"
            ' partition = EXCLUDED.partition, "offset" = EXCLUDED."offset",'
            " outcome = 'dead_lettered', processed_at = now()"
            " WHERE inbox.outcome IN ('processing', 'dead_lettered')"
        ),
        {
            "m": ref.message_id,
            "t": ref.topic,
            "p": ref.partition,
            "o": ref.offset,
            "u": user_id,
        },
    )
