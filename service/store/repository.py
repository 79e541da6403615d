"""The repository: batched statements the ingest use case runs inside its transaction.

It never commits: the use case owns the transaction. Each method is one round trip for a whole
batch of messages (arrays unnested server-side), so a batch of 32 messages costs about as many
statements as one. The report is stored from its raw text (cast to JSONB by PostgreSQL, no
dump round trip), and user events are taken from that stored JSON by position.
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


@dataclass(frozen=True, slots=True)
class MessageRef:
    """Where a message came from and the id the inbox deduplicates on."""

    message_id: str
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class UserRow:
    """The locked state of a user: the last snapshot's hash and digest."""

    user_id: str
    last_content_hash: bytes | None
    digest: SnapshotDigest | None


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    """A snapshot to insert: typed columns plus the raw response body."""

    message_id: str
    user_id: str
    report_id: str
    state: str | None
    results: dict[str, str | None]
    face_liveness: float | None
    report_created_at: datetime | None
    content_hash: bytes
    body: str


@dataclass(frozen=True, slots=True)
class EventRow:
    """One of the report's user events, by its position in the report's `events` list."""

    event_id: str
    user_id: str
    type: str
    occurred_on: datetime | None
    version: int | None
    position: int
    message_id: str


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A record to publish: derived CloudEvent or dead letter."""

    event_id: str
    topic: str
    key: bytes | None
    headers: list[tuple[str, bytes]]
    payload: bytes | None
    event_type: str
    user_id: str | None


async def known_message_ids(connection: AsyncConnection, message_ids: Sequence[str]) -> set[str]:
    """The ids among these that the inbox already holds."""
    result = await connection.execute(
        text("SELECT message_id FROM inbox WHERE message_id = ANY(CAST(:ids AS text[]))"),
        {"ids": list(message_ids)},
    )
    return {row[0] for row in result}


async def claim_messages(
    connection: AsyncConnection, refs: Sequence[MessageRef], user_ids: Sequence[str | None]
) -> set[str]:
    """Insert inbox rows; return the ids newly claimed (the others were processed before)."""
    result = await connection.execute(
        text(
            'INSERT INTO inbox (message_id, topic, partition, "offset", user_id, outcome)'
            " SELECT m, t, p, o, u, 'processing' FROM unnest(CAST(:m AS text[]),"
            " CAST(:t AS text[]), CAST(:p AS int[]), CAST(:o AS bigint[]), CAST(:u AS uuid[]))"
            " AS x(m, t, p, o, u) ON CONFLICT (message_id) DO NOTHING RETURNING message_id"
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
            "SELECT user_id, last_content_hash, digest FROM users"
            " WHERE user_id = ANY(CAST(:u AS uuid[])) ORDER BY user_id FOR UPDATE"
        ),
        {"u": ordered},
    )
    rows = {}
    for user_id, content_hash, digest in result:
        parsed = SnapshotDigest.model_validate(digest) if digest is not None else None
        rows[str(user_id)] = UserRow(str(user_id), content_hash, parsed)
    return rows


async def insert_snapshots(
    connection: AsyncConnection, snapshots: Sequence[SnapshotRow]
) -> dict[str, int]:
    """Insert snapshots; return their ids by message id."""
    if not snapshots:
        return {}
    result = await connection.execute(
        text(
            "INSERT INTO report_snapshots (user_id, report_id, state, selfie_security,"
            " document_security, document_read, process_security, face_liveness,"
            " report_created_at, content_hash, report, message_id)"
            " SELECT u, r, s, r1, r2, r3, r4, l, c, h, CAST(b AS jsonb) -> 'report', m"
            " FROM unnest(CAST(:u AS uuid[]), CAST(:r AS uuid[]), CAST(:s AS text[]),"
            " CAST(:r1 AS text[]), CAST(:r2 AS text[]), CAST(:r3 AS text[]),"
            " CAST(:r4 AS text[]), CAST(:l AS numeric[]), CAST(:c AS timestamptz[]),"
            " CAST(:h AS bytea[]), CAST(:b AS text[]), CAST(:m AS text[]))"
            " AS x(u, r, s, r1, r2, r3, r4, l, c, h, b, m)"
            " RETURNING id, message_id"
        ),
        {
            "u": [s.user_id for s in snapshots],
            "r": [s.report_id for s in snapshots],
            "s": [s.state for s in snapshots],
            "r1": [s.results.get("selfie_security") for s in snapshots],
            "r2": [s.results.get("document_security") for s in snapshots],
            "r3": [s.results.get("document_read") for s in snapshots],
            "r4": [s.results.get("process_security") for s in snapshots],
            "l": [s.face_liveness for s in snapshots],
            "c": [s.report_created_at for s in snapshots],
            "h": [s.content_hash for s in snapshots],
            "b": [s.body for s in snapshots],
            "m": [s.message_id for s in snapshots],
        },
    )
    return {message_id: snapshot_id for snapshot_id, message_id in result}


async def insert_events(
    connection: AsyncConnection, events: Sequence[EventRow], snapshot_ids: dict[str, int]
) -> None:
    """Insert the reports' user events; an event id already stored is kept as it was."""
    if not events:
        return
    await connection.execute(
        text(
            "INSERT INTO user_events (event_id, user_id, type, occurred_on, version, event,"
            " first_snapshot_id)"
            " SELECT x.e, x.u, x.t, x.o, x.v, s.report -> 'events' -> x.i, x.s"
            " FROM unnest(CAST(:e AS text[]), CAST(:u AS uuid[]), CAST(:t AS text[]),"
            " CAST(:o AS timestamptz[]), CAST(:v AS int[]), CAST(:i AS int[]),"
            " CAST(:s AS bigint[])) AS x(e, u, t, o, v, i, s)"
            " JOIN report_snapshots s ON s.id = x.s"
            " ON CONFLICT (event_id) DO NOTHING"
        ),
        {
            "e": [e.event_id for e in events],
            "u": [e.user_id for e in events],
            "t": [e.type for e in events],
            "o": [e.occurred_on for e in events],
            "v": [e.version for e in events],
            "i": [e.position for e in events],
            "s": [snapshot_ids[e.message_id] for e in events],
        },
    )


async def insert_outbox(connection: AsyncConnection, rows: Sequence[OutboxRow]) -> None:
    """Queue records for the relay, in order; a record already queued is not queued twice."""
    if not rows:
        return
    await connection.execute(
        text(
            "INSERT INTO outbox (event_id, topic, key, headers, payload, event_type, user_id)"
            " SELECT e, t, k, CAST(h AS jsonb), p, y, u FROM unnest(CAST(:e AS uuid[]),"
            " CAST(:t AS text[]), CAST(:k AS bytea[]), CAST(:h AS text[]),"
            " CAST(:p AS bytea[]), CAST(:y AS text[]), CAST(:u AS uuid[]))"
            " WITH ORDINALITY AS x(e, t, k, h, p, y, u, n) ORDER BY n"
            " ON CONFLICT (event_id) DO NOTHING"
        ),
        {
            "e": [r.event_id for r in rows],
            "t": [r.topic for r in rows],
            "k": [r.key for r in rows],
            "h": [_headers_json(r.headers) for r in rows],
            "p": [r.payload for r in rows],
            "y": [r.event_type for r in rows],
            "u": [r.user_id for r in rows],
        },
    )


def _headers_json(headers: Sequence[tuple[str, bytes]]) -> str:
    return json.dumps([[k, v.decode("utf-8", "replace")] for k, v in headers])


async def update_users(
    connection: AsyncConnection, updates: Sequence[tuple[str, str | None, int, bytes, str]]
) -> None:
    """Set each user's current state, last snapshot, hash and digest (JSON)."""
    if not updates:
        return
    await connection.execute(
        text(
            "UPDATE users SET state = x.s, last_snapshot_id = x.i, last_content_hash = x.h,"
            " digest = CAST(x.d AS jsonb), updated_at = now()"
            " FROM unnest(CAST(:u AS uuid[]), CAST(:s AS text[]), CAST(:i AS bigint[]),"
            " CAST(:h AS bytea[]), CAST(:d AS text[])) AS x(u, s, i, h, d)"
            " WHERE users.user_id = x.u"
        ),
        {
            "u": [u[0] for u in updates],
            "s": [u[1] for u in updates],
            "i": [u[2] for u in updates],
            "h": [u[3] for u in updates],
            "d": [u[4] for u in updates],
        },
    )


async def set_outcomes(
    connection: AsyncConnection, outcomes: Sequence[tuple[str, str, int | None]]
) -> None:
    """Record each claimed message's outcome (and its snapshot, when one was stored)."""
    if not outcomes:
        return
    await connection.execute(
        text(
            "UPDATE inbox SET outcome = x.o, snapshot_id = x.s"
            " FROM unnest(CAST(:m AS text[]), CAST(:o AS text[]), CAST(:s AS bigint[]))"
            " AS x(m, o, s) WHERE inbox.message_id = x.m"
        ),
        {
            "m": [o[0] for o in outcomes],
            "o": [o[1] for o in outcomes],
            "s": [o[2] for o in outcomes],
        },
    )


async def quarantine(connection: AsyncConnection, entry: dict[str, Any]) -> None:
    """Keep what a dead-lettered message brought: its key, value and any report body."""
    await connection.execute(
        text(
            'INSERT INTO quarantine (message_id, topic, partition, "offset", user_id,'
            " error_code, reason, input_key, input_value, report_body)"
            " VALUES (:message_id, :topic, :partition, :offset, :user_id, :error_code,"
            " :reason, :input_key, :input_value, :report_body)"
        ),
        entry,
    )
