"""Derivation end to end: each change made to a report at Alice becomes exactly the expected
derived events, published in the user's order."""

from __future__ import annotations

import uuid

import asyncpg

from emulator import AliceEmulator
from tests.integration.pipeline.conftest import (
    Producer,
    ReaderFactory,
    Received,
    SettingsFactory,
    Topics,
    create_plain_user,
    eventually,
    running,
    settled,
)

STATE = "onboarding.user.state_changed"
RESULT = "onboarding.result.changed"
DOCUMENT = "onboarding.document.added"
SELFIE = "onboarding.selfie.added"
RISK = "onboarding.risk.flagged"
CLEARED = "onboarding.risk.cleared"


def _types(records: list[Received]) -> list[str]:
    return [r.headers["ce_type"].decode() for r in records]


def _change(record: Received) -> tuple[str | None, str | None]:
    data = record.json()
    return data["from"], data["to"]


async def test_report_changes_derive_exactly_the_expected_events_in_order(
    make_settings: SettingsFactory,
    emulator: AliceEmulator,
    producer: Producer,
    read_topic: ReaderFactory,
    topics: Topics,
    pg: asyncpg.Connection,
) -> None:
    """State, document and score changes derive state_changed (from/to), result.changed,
    document.added, one risk.flagged about the selfie that is not flagged again while the risk
    persists, and a risk.cleared naming it once the score recovers, each exactly once and in the
    order the changes happened."""
    user_id = str(uuid.uuid4())
    create_plain_user(emulator, user_id)
    initial = emulator.report(user_id)
    selfie_id, initial_documents = (
        initial["selfies"][0]["id"],
        {d["id"] for d in initial["documents"]},
    )
    ids = {"user_id": user_id, "report_id": initial["id"]}
    output = await read_topic(topics.output)
    seen = 0

    async def step(name: str) -> list[Received]:
        """Publish an event for the user's current report; return the records it derived."""
        nonlocal seen
        message_id = f"event:{name}-{uuid.uuid4().hex}"
        await producer.send({"user_id": user_id, "event_id": message_id[6:]})

        async def recorded() -> bool:
            outcome = await pg.fetchval(
                "SELECT outcome FROM inbox WHERE message_id = $1", message_id
            )
            return bool(outcome == "stored")

        await eventually(recorded)
        derived = await pg.fetchval("SELECT count(*) FROM outbox WHERE user_id = $1", user_id)
        records = await output.wait_for(derived)
        new, seen = records[seen:derived], derived
        return new

    async with running(make_settings()):
        first = await step("initial")
        assert _types(first) == [STATE, DOCUMENT, DOCUMENT, SELFIE]
        assert _change(first[0]) == (None, "TO_REVIEW")
        assert [r.json().get("document_id", r.json().get("selfie_id")) for r in first[1:]] == [
            *(d["id"] for d in initial["documents"]),
            selfie_id,
        ]

        emulator.set_user_state(user_id, "ACCEPTED")
        accepted = await step("accepted")
        assert [(_types([r]), _change(r)) for r in accepted] == [
            ([STATE], ("TO_REVIEW", "ACCEPTED"))
        ]

        emulator.add_document(user_id, "passport")
        passport = await step("passport")
        assert _types(passport) == [DOCUMENT]
        added = passport[0].json()
        assert (added["type"], added["document_id"] in initial_documents) == ("passport", False)

        emulator.set_scores(user_id, liveness=12.5)
        spoofed = await step("liveness-low")
        assert _types(spoofed) == [RESULT, RISK]
        assert spoofed[0].json() == {
            **ids,
            "dimension": "selfie_security",
            "from": "ok",
            "to": "ko",
        }
        assert spoofed[1].json() == {
            **ids,
            "reason": "liveness_below_threshold",
            "selfie_id": selfie_id,
            "value": 12.5,
            "threshold": 50.0,
        }

        emulator.set_scores(user_id, liveness=10.0)  # still low: the risk persists
        assert await step("liveness-lower") == []

        emulator.set_scores(user_id, liveness=88.0)  # recovered: the risk is cleared
        recovered = await step("liveness-recovered")
        assert _types(recovered) == [RESULT, CLEARED]
        assert recovered[1].json() == {
            **ids,
            "reason": "liveness_below_threshold",
            "flagged_event_id": spoofed[1].headers["ce_id"].decode(),
            "document_id": None,
            "selfie_id": selfie_id,
            "field": None,
            "check": None,
        }

        emulator.set_user_state(user_id, "REJECTED")
        rejected = await step("rejected")
        assert [(_types([r]), _change(r)) for r in rejected] == [
            ([STATE], ("ACCEPTED", "REJECTED"))
        ]

        records = await settled(producer, emulator, output, seen)

    _assert_user_order(records, user_id)
    snapshots = await pg.fetchval(
        "SELECT count(*) FROM report_snapshots WHERE user_id = $1", user_id
    )
    assert snapshots == 7


def _assert_user_order(records: list[Received], user_id: str) -> None:
    """Every record is the user's, ids are unique, and the state chain is unbroken."""
    assert all(r.key == user_id.encode() for r in records)
    ce_ids = [r.headers["ce_id"] for r in records]
    assert len(set(ce_ids)) == len(ce_ids)
    chain = [_change(r) for r in records if _types([r]) == [STATE]]
    assert chain == [(None, "TO_REVIEW"), ("TO_REVIEW", "ACCEPTED"), ("ACCEPTED", "REJECTED")]
