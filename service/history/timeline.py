"""A user's timeline: snapshots in order, each with why, what changed and what it derived. Pure.

Derived events are linked to the snapshot stored in the same transaction: the outbox row and the
snapshot row take `now()` of that transaction (`created_at` = `stored_at`), and nothing else
links them. Two snapshots of one user stored in one transaction (two changed reports in one
batch: rare) share their events: they are listed under the later one. Rows of the outbox not
linked to a snapshot (`user.deleted_upstream`, dead letters) are listed apart, in time order.
Sent outbox rows are deleted a day after sending (service/store/relay.py): older snapshots list
no derived events.

`timeline_json` is the document `history --json` prints and the HTTP API serves; personal values
are masked unless `reveal` (service/history/masking.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from service.history.diff import Capture, SnapshotDiff, snapshot_diff
from service.history.masking import shown
from service.history.origin import Origin, origin_of
from service.history.records import Location, OutboxRecord, StoredSnapshot, UserRecord

FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Entry:
    """One snapshot of the timeline."""

    snapshot: StoredSnapshot
    origin: Origin
    diff: SnapshotDiff
    derived: tuple[OutboxRecord, ...]


@dataclass(frozen=True, slots=True)
class Timeline:
    """A user's history: the entries oldest first, and the outbox rows of no snapshot."""

    user: UserRecord
    entries: tuple[Entry, ...]
    other_events: tuple[OutboxRecord, ...]


def build_timeline(
    user: UserRecord,
    snapshots: Sequence[StoredSnapshot],
    *,
    inbox: Mapping[str, Location],
    dead_letters: Mapping[str, frozenset[Location]],
    outbox: Sequence[OutboxRecord],
) -> Timeline:
    """Order the snapshots, diff each against the one before, link the outbox rows (given in
    outbox order)."""
    ordered = sorted(snapshots, key=lambda s: s.id)
    last_at: dict[datetime, int] = {s.stored_at: s.id for s in ordered}  # the later one wins
    linked: dict[int, list[OutboxRecord]] = {}
    other: list[OutboxRecord] = []
    # Stable: rows of one transaction keep the outbox's order (the order they were derived).
    for record in sorted(outbox, key=lambda r: r.created_at):
        owner = last_at.get(record.created_at)
        if owner is None or record.event_type == "dead_letter":
            other.append(record)
        else:
            linked.setdefault(owner, []).append(record)
    entries = []
    previous: Mapping[str, Any] | None = None
    for snapshot in ordered:
        entries.append(
            Entry(
                snapshot=snapshot,
                origin=origin_of(snapshot.message_id, inbox=inbox, dead_letters=dead_letters),
                diff=snapshot_diff(previous, snapshot.report),
                derived=tuple(linked.get(snapshot.id, ())),
            )
        )
        previous = snapshot.report
    return Timeline(user, tuple(entries), tuple(other))


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _capture(capture: Capture) -> dict[str, Any]:
    return {"id": capture.id, "type": capture.type, "issuing_country": capture.issuing_country}


def _event(record: OutboxRecord) -> dict[str, Any]:
    return {
        "event_id": record.event_id,
        "type": record.event_type,
        "queued_at": _time(record.created_at),
        "status": record.status,
        "sent_at": _time(record.sent_at),
    }


def diff_json(diff: SnapshotDiff, *, reveal: bool) -> dict[str, Any]:
    """The diff as JSON, personal values masked unless `reveal`."""
    return {
        "state": (
            {"from": diff.state.before, "to": diff.state.after} if diff.state is not None else None
        ),
        "results": [{"name": c.name, "from": c.before, "to": c.after} for c in diff.results],
        "scores": [{"name": c.name, "from": c.before, "to": c.after} for c in diff.scores],
        "documents_added": [_capture(c) for c in diff.documents_added],
        "documents_voided": [_capture(c) for c in diff.documents_voided],
        "documents_removed": [_capture(c) for c in diff.documents_removed],
        "selfies_added": [c.id for c in diff.selfies_added],
        "selfies_voided": [c.id for c in diff.selfies_voided],
        "selfies_removed": [c.id for c in diff.selfies_removed],
        "checks": [
            {"where": c.where, "key": c.key, "from": c.before, "to": c.after} for c in diff.checks
        ],
        "user_data": [
            {
                "name": c.name,
                "from": shown(c.before, c.name.rsplit(".", 1)[-1], reveal=reveal),
                "to": shown(c.after, c.name.rsplit(".", 1)[-1], reveal=reveal),
            }
            for c in diff.user_data
        ],
        "devices_added": [
            {"platform": d.platform, "model": d.model, "ip": shown(d.ip, "ip", reveal=reveal)}
            for d in diff.devices_added
        ],
    }


def timeline_json(timeline: Timeline, *, reveal: bool) -> dict[str, Any]:
    """The history document of `history --json` and `GET /v1/users/{id}/history`."""
    user = timeline.user
    return {
        "format_version": FORMAT_VERSION,
        "user_id": user.user_id,
        "state": user.state,
        "reconcile_state": user.reconcile_state,
        "deleted_upstream_at": _time(user.deleted_upstream_at),
        "revealed": reveal,
        "snapshots": [
            {
                "snapshot_id": e.snapshot.id,
                "report_id": e.snapshot.report_id,
                "stored_at": _time(e.snapshot.stored_at),
                "report_created_at": _time(e.snapshot.report_created_at),
                "state": e.snapshot.state,
                "origin": {
                    "kind": e.origin.kind,
                    "message_id": e.origin.message_id,
                    "source": (
                        {
                            "topic": e.origin.source.topic,
                            "partition": e.origin.source.partition,
                            "offset": e.origin.source.offset,
                        }
                        if e.origin.source is not None
                        else None
                    ),
                },
                "diff": diff_json(e.diff, reveal=reveal),
                "derived_events": [_event(r) for r in e.derived],
            }
            for e in timeline.entries
        ],
        "other_events": [_event(r) for r in timeline.other_events],
    }
