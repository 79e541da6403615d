"""The timeline: origins, derived events linked by transaction, masking of the document (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from service.history.origin import origin_of
from service.history.records import Location, OutboxRecord, StoredSnapshot, UserRecord
from service.history.render import render_text
from service.history.timeline import build_timeline, timeline_json
from tests.unit.history.reports import PASSPORT, example, with_id_card_only

USER = "21800ed8-f71c-4ae6-b7fd-16300ca23ca1"
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
INPUT = Location("alice.onboarding.completed", 0, 7)


def _snapshot(number: int, message_id: str, report: dict[str, Any]) -> StoredSnapshot:
    state = report["summary"]["state"]["value"]
    return StoredSnapshot(
        number, report["id"], state, message_id, T0 + timedelta(minutes=number), None, report
    )


def _event(event_id: str, event_type: str, at: datetime) -> OutboxRecord:
    return OutboxRecord(event_id, event_type, at, at + timedelta(seconds=1), None)


def test_origin_is_read_from_the_inbox_id() -> None:
    """Reconciler ids, backfill events, replays (dead-lettered elsewhere) and plain input
    events each get their origin; the same record redelivered is not a replay."""
    dead = {"event:e-9": frozenset({Location("in", 0, 3)})}
    inbox = {"event:e-9": Location("in", 0, 11), "event:e-3": Location("in", 0, 3)}
    dead["event:e-3"] = frozenset({Location("in", 0, 3)})

    def kind(message_id: str) -> str:
        return origin_of(message_id, inbox=inbox, dead_letters=dead).kind

    assert kind(f"reconcile:{USER}:4") == "reconciler"
    assert kind("event:backfill:x:run-1") == "backfill"
    assert kind("event:e-9") == "replay"
    assert kind("event:e-3") == "input_event"
    assert kind("ce:6:source:abc") == "input_event"


def _three_steps() -> dict[str, Any]:
    first = with_id_card_only()
    second = with_id_card_only()
    second["summary"]["user_data"][6]["value"] = "CALLE MAYOR 1, MADRID"
    third = example()
    third["summary"]["state"]["value"] = "ACCEPTED"
    snapshots = [
        _snapshot(1, "event:e1", first),
        _snapshot(2, "event:e2", second),
        _snapshot(3, f"reconcile:{USER}:2", third),
    ]
    outbox = [
        _event("a1", "onboarding.user.state_changed", snapshots[0].stored_at),
        _event("c1", "onboarding.user.state_changed", snapshots[2].stored_at),
        _event("c2", "onboarding.document.added", snapshots[2].stored_at),
        _event("z9", "onboarding.user.deleted_upstream", T0 + timedelta(hours=1)),
    ]
    user = UserRecord(USER, "ACCEPTED", None, None)
    timeline = build_timeline(
        user, list(reversed(snapshots)), inbox={"event:e1": INPUT}, dead_letters={}, outbox=outbox
    )
    return timeline_json(timeline, reveal=False)


def test_three_snapshots_with_their_diffs_and_events() -> None:
    """Snapshots come oldest first, each with its origin, its diff from the one before and the
    outbox rows of its transaction; a row of no snapshot is listed apart."""
    document = _three_steps()
    first, second, third = document["snapshots"]
    assert [s["origin"]["kind"] for s in document["snapshots"]] == [
        "input_event",
        "input_event",
        "reconciler",
    ]
    assert first["origin"]["source"] == {"topic": INPUT.topic, "partition": 0, "offset": 7}
    assert first["diff"]["state"] == {"from": None, "to": "TO_REVIEW"}
    assert [e["event_id"] for e in first["derived_events"]] == ["a1"]
    assert second["diff"]["state"] is None
    assert second["derived_events"] == []
    assert third["diff"]["state"] == {"from": "TO_REVIEW", "to": "ACCEPTED"}
    assert [d["id"] for d in third["diff"]["documents_added"]] == [PASSPORT]
    assert {e["event_id"] for e in third["derived_events"]} == {"c1", "c2"}
    assert [e["type"] for e in document["other_events"]] == ["onboarding.user.deleted_upstream"]
    assert third["derived_events"][0]["status"] == "sent"


def test_the_document_masks_personal_values() -> None:
    """Without reveal, a changed address and the first snapshot's names, id number, birth date
    and IP are masked in the document and in its text."""
    document = _three_steps()
    (address,) = document["snapshots"][1]["diff"]["user_data"]
    assert address == {
        "name": "user_data.address",
        "from": "AVD***",
        "to": "CAL***",
    }
    first = {c["name"]: c["to"] for c in document["snapshots"][0]["diff"]["user_data"]}
    assert first["user_data.first_name"] == "CAR***"
    assert first["user_data.id_number"] == "****999R"
    assert first["user_data.birth_date"] == "****-**-**"
    assert document["snapshots"][0]["diff"]["devices_added"][0]["ip"] == "203.0.*.*"
    text = render_text(document)
    for personal in ("CARMEN", "99999999R", "1980-01-01", "203.0.113.24", "CALLE MAYOR"):
        assert personal not in text
    assert "user_data.address: AVD*** -> CAL***" in text
    assert "via reconciler (no event)" in text


def test_two_snapshots_of_one_transaction_share_events_under_the_later() -> None:
    """Outbox rows of a transaction that stored two snapshots of the user go to the later one."""
    first, second = _snapshot(1, "event:a", example()), _snapshot(2, "event:b", example())
    second = StoredSnapshot(
        2, second.report_id, "TO_REVIEW", "event:b", first.stored_at, None, example()
    )
    timeline = build_timeline(
        UserRecord(USER, "TO_REVIEW", None, None),
        [first, second],
        inbox={},
        dead_letters={},
        outbox=[_event("x", "onboarding.user.state_changed", first.stored_at)],
    )
    assert [len(e.derived) for e in timeline.entries] == [0, 1]


def test_events_of_a_snapshot_keep_the_outbox_order() -> None:
    """A snapshot's derived events are listed in the order they were queued, not by id."""
    snapshot = _snapshot(1, "event:a", example())
    outbox = [
        _event("z-state", "onboarding.user.state_changed", snapshot.stored_at),
        _event("a-document", "onboarding.document.added", snapshot.stored_at),
    ]
    timeline = build_timeline(
        UserRecord(USER, "TO_REVIEW", None, None),
        [snapshot],
        inbox={},
        dead_letters={},
        outbox=outbox,
    )
    assert [e.event_id for e in timeline.entries[0].derived] == ["z-state", "a-document"]
