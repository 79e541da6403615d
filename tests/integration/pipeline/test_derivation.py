"""Derivation end to end: each change made to a report at Alice becomes exactly the expected
derived events, published in the user's order."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from emulator import AliceEmulator
from service.derive import Thresholds, open_risks
from service.report import parse_report
from tests.integration.pipeline.conftest import (
    Producer,
    ReaderFactory,
    Received,
    SettingsFactory,
    Topics,
    eventually,
    running,
    stays_at,
)

STATE = "onboarding.user.state_changed"
RESULT = "onboarding.result.changed"
DOCUMENT = "onboarding.document.added"
SELFIE = "onboarding.selfie.added"
RISK = "onboarding.risk.flagged"
SEED = 7  # the emulator fixture's seed: a scratch emulator with it renders the same reports


def _risks(emulator: AliceEmulator, user_id: str) -> dict[str, Any]:
    return open_risks(parse_report(emulator.report_bytes(user_id)).report, Thresholds())


def clean_user() -> str:
    """A user whose report has no risk, before and after a passport is added.

    Chosen by rehearsing on a scratch emulator with the fixture's seed, so that each step of
    the test changes only what it says (the emulator draws scores per user).
    """
    for _ in range(200):
        user_id = str(uuid.uuid4())
        scratch = AliceEmulator(seed=SEED)
        scratch.create_user(user_id)
        if _risks(scratch, user_id):
            continue
        before = scratch.report(user_id)["summary"]["result"]
        scratch.add_document(user_id, "passport")
        if not _risks(scratch, user_id) and scratch.report(user_id)["summary"]["result"] == before:
            return user_id
    raise AssertionError("no risk-free user in 200 draws")


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
    document.added and one risk.flagged that is not flagged again while the risk persists,
    each exactly once and in the order the changes happened."""
    user_id = clean_user()
    emulator.create_user(user_id, state="TO_REVIEW")
    initial = emulator.report(user_id)
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
        initial_documents = {d["id"] for d in initial["documents"]}
        assert {r.json()["document_id"] for r in first[1:3]} == initial_documents

        emulator.set_user_state(user_id, "ACCEPTED")
        accepted = await step("accepted")
        assert _types(accepted) == [STATE]
        assert _change(accepted[0]) == ("TO_REVIEW", "ACCEPTED")

        emulator.add_document(user_id, "passport")
        passport = await step("passport")
        assert _types(passport) == [DOCUMENT]
        assert passport[0].json()["type"] == "passport"
        assert passport[0].json()["document_id"] not in initial_documents

        emulator.set_scores(user_id, liveness=12.5)
        spoofed = await step("liveness-low")
        assert _types(spoofed) == [RESULT] + [RISK] * (len(spoofed) - 1)
        assert spoofed[0].json()["dimension"] == "selfie_security"
        assert _change(spoofed[0]) == ("ok", "ko")
        risks = [r.json() for r in spoofed[1:]]
        liveness = [r for r in risks if r["reason"] == "liveness_below_threshold"]
        assert [r["value"] for r in liveness] == [12.5]

        emulator.set_scores(user_id, liveness=10.0)  # still low: the risk persists
        assert await step("liveness-lower") == []

        emulator.set_user_state(user_id, "REJECTED")
        rejected = await step("rejected")
        assert _types(rejected) == [STATE]
        assert _change(rejected[0]) == ("ACCEPTED", "REJECTED")

        records = await stays_at(output, seen)

    _assert_user_order(records, user_id)
    snapshots = await pg.fetchval(
        "SELECT count(*) FROM report_snapshots WHERE user_id = $1", user_id
    )
    assert snapshots == 6


def _assert_user_order(records: list[Received], user_id: str) -> None:
    """Every record is the user's, ids are unique, and the state chain is unbroken."""
    assert all(r.key == user_id.encode() for r in records)
    ce_ids = [r.headers["ce_id"] for r in records]
    assert len(set(ce_ids)) == len(ce_ids)
    chain = [_change(r) for r in records if _types([r]) == [STATE]]
    assert chain == [(None, "TO_REVIEW"), ("TO_REVIEW", "ACCEPTED"), ("ACCEPTED", "REJECTED")]
