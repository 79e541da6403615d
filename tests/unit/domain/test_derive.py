"""Derivation of state changes between two snapshots of a user's report, table-tested."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from service.derive import SnapshotDigest
from service.messages import (
    DOCUMENT_ADDED,
    DOCUMENT_NFC_VERIFIED,
    DOCUMENT_VOIDED,
    RESULT_CHANGED,
    RISK_FLAGGED,
    SELFIE_ADDED,
    SELFIE_VOIDED,
    STATE_CHANGED,
    TRUSTED_DOCUMENT_ADDED,
)
from tests.unit.domain.variants import (
    EXAMPLE,
    IDCARD,
    IDS,
    NEW_DOCUMENT_ID,
    NEW_SELFIE_ID,
    OBSERVED_AT,
    PASSPORT,
    SELFIE,
    USER_ID,
    Edit,
    Snapshot,
    add_document,
    add_selfie,
    add_trusted_document,
    changed,
    derive,
    document_check,
    history,
    liveness,
    result,
    state,
    types,
    void_document,
    void_selfie,
)

OTD_ID = "0f5b6c1e-3333-4d2a-8e7f-0123456789ef"


# --- First snapshot ------------------------------------------------------------------------------
def test_first_snapshot_of_example() -> None:
    """A first snapshot derives the state from null, every document and selfie, and each open
    cause once: the example's low liveness is one signal, about its selfie."""
    events, _ = derive(None, Snapshot(base=copy.deepcopy(EXAMPLE)))
    assert [(e.type, e.data) for e in events] == [
        (
            STATE_CHANGED,
            {
                **IDS,
                "from": None,
                "to": "TO_REVIEW",
                "results": {
                    "selfie_security": "ko",
                    "document_security": "ok",
                    "document_read": "ok",
                    "process_security": "ok",
                },
            },
        ),
        (
            DOCUMENT_ADDED,
            {**IDS, "document_id": IDCARD, "type": "idcard", "issuing_country": "ESP"},
        ),
        (
            DOCUMENT_ADDED,
            {**IDS, "document_id": PASSPORT, "type": "passport", "issuing_country": "ESP"},
        ),
        (SELFIE_ADDED, {**IDS, "selfie_id": SELFIE}),
        (
            RISK_FLAGGED,
            {
                **IDS,
                "reason": "liveness_below_threshold",
                "selfie_id": SELFIE,
                "value": 12.7,
                "threshold": 50.0,
            },
        ),
    ]


def test_first_snapshot_without_risks_flags_nothing() -> None:
    """A first snapshot with no score below threshold derives no risk.flagged."""
    events, _ = derive(None, Snapshot())
    assert RISK_FLAGGED not in types(events)
    assert types(events).count(DOCUMENT_ADDED) == 2


# --- Changes between two snapshots ---------------------------------------------------------------
def test_identical_report_derives_nothing() -> None:
    """A report identical to the stored one derives nothing and leaves the digest unchanged."""
    _, digest = derive(None, Snapshot(base=copy.deepcopy(EXAMPLE)))
    events, again = derive(digest, Snapshot(base=copy.deepcopy(EXAMPLE)))
    assert events == []
    assert again == digest


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(
            state("ACCEPTED"),
            [
                (
                    STATE_CHANGED,
                    {
                        "from": "TO_REVIEW",
                        "to": "ACCEPTED",
                        "results": {
                            "selfie_security": "ko",
                            "document_security": "ok",
                            "document_read": "ok",
                            "process_security": "ok",
                        },
                    },
                )
            ],
            id="state",
        ),
        pytest.param(
            result("document_read", "ko"),
            [(RESULT_CHANGED, {"dimension": "document_read", "from": "ok", "to": "ko"})],
            id="result-dimension",
        ),
        pytest.param(
            add_document("driverlicense", "FRA"),
            [
                (
                    DOCUMENT_ADDED,
                    {
                        "document_id": NEW_DOCUMENT_ID,
                        "type": "driverlicense",
                        "issuing_country": "FRA",
                    },
                )
            ],
            id="document-added",
        ),
        pytest.param(add_selfie, [(SELFIE_ADDED, {"selfie_id": NEW_SELFIE_ID})], id="selfie-added"),
        pytest.param(
            void_document(1),
            [(DOCUMENT_VOIDED, {"document_id": PASSPORT, "type": "passport"})],
            id="document-voided",
        ),
        pytest.param(void_selfie, [(SELFIE_VOIDED, {"selfie_id": SELFIE})], id="selfie-voided"),
        pytest.param(
            add_trusted_document(OTD_ID, "proof_of_address"),
            [
                (
                    TRUSTED_DOCUMENT_ADDED,
                    {"trusted_document_id": OTD_ID, "category": "proof_of_address"},
                )
            ],
            id="trusted-document-added",
        ),
        pytest.param(
            document_check("authentic_nfc_chip", 97.5, index=1),
            [
                (
                    DOCUMENT_NFC_VERIFIED,
                    {"document_id": PASSPORT, "type": "passport", "score": 97.5, "threshold": 50.0},
                )
            ],
            id="nfc-verified",
        ),
        pytest.param(document_check("authentic_nfc_chip", None, index=1), [], id="nfc-null"),
        pytest.param(liveness(None), [], id="null-liveness"),
        pytest.param(document_check("consistent_document", None), [], id="null-check"),
        pytest.param(liveness(50.0), [], id="liveness-at-threshold-passes"),
    ],
)
def test_one_change_derives_exactly_its_event(
    edit: Edit, expected: list[tuple[str, dict[str, Any]]]
) -> None:
    """One change between two snapshots derives exactly the events of that change, with exactly
    the data its type declares."""
    events = changed(Snapshot(), Snapshot(edit))
    assert [(e.type, e.data) for e in events] == [(t, {**IDS, **data}) for t, data in expected]


def test_state_change_carries_current_results() -> None:
    """A state change carries the current results of all four dimensions."""
    events = changed(Snapshot(), Snapshot(state("REJECTED"), result("selfie_security", "ok")))
    state_changed = next(e for e in events if e.type == STATE_CHANGED)
    assert state_changed.data["results"] == {
        "selfie_security": "ok",
        "document_security": "ok",
        "document_read": "ok",
        "process_security": "ok",
    }
    assert [e.data["dimension"] for e in events if e.type == RESULT_CHANGED] == ["selfie_security"]


def test_in_progress_alias_is_not_a_state_change() -> None:
    """`INPROGRESS` reads as `IN_PROGRESS`, so switching between the spellings changes nothing."""
    events = changed(Snapshot(state("IN_PROGRESS")), Snapshot(state("INPROGRESS")))
    assert STATE_CHANGED not in types(events)


def test_voided_and_trusted_documents_are_announced_once() -> None:
    """A voided document, voided selfie and trusted document are announced when they appear,
    not again on later reports."""
    edits = (void_document(0), void_selfie, add_trusted_document(OTD_ID, "payroll"))
    derived = history(Snapshot(), Snapshot(*edits), Snapshot(*edits, state("REJECTED")))
    assert types(derived[1]) == [DOCUMENT_VOIDED, SELFIE_VOIDED, TRUSTED_DOCUMENT_ADDED]
    assert types(derived[2]) == [STATE_CHANGED]


def test_first_snapshot_announces_voided_documents_and_trusted_documents() -> None:
    """A first snapshot announces a voided document right after it is added, and each trusted
    document."""
    events, _ = derive(None, Snapshot(void_document(1), add_trusted_document(OTD_ID, "invoice")))
    assert types(events) == [
        STATE_CHANGED,
        DOCUMENT_ADDED,
        DOCUMENT_ADDED,
        DOCUMENT_VOIDED,
        SELFIE_ADDED,
        TRUSTED_DOCUMENT_ADDED,
    ]


# --- Ids and envelope ----------------------------------------------------------------------------
def test_ids_are_deterministic() -> None:
    """Deriving the same change twice gives the same events with the same ids."""
    _, digest = derive(None, Snapshot())
    current = Snapshot(state("ACCEPTED"), add_document(), liveness(10.0))
    assert derive(digest, current) == derive(digest, current)


def test_ids_differ_between_transitions_and_events() -> None:
    """Ids are unique within a transition and differ between different transitions."""
    _, digest = derive(None, Snapshot())
    accepted, _ = derive(digest, Snapshot(state("ACCEPTED")))
    rejected, _ = derive(digest, Snapshot(state("REJECTED")))
    first, _ = derive(None, Snapshot(base=copy.deepcopy(EXAMPLE)))
    assert accepted[0].id != rejected[0].id
    assert len({e.id for e in first}) == len(first)


def test_every_event_carries_user_and_report_ids() -> None:
    """Every derived event names the user and the report, in its data and as its subject."""
    _, digest = derive(None, Snapshot(base=copy.deepcopy(EXAMPLE)))
    current = Snapshot(state("ACCEPTED"), result("document_read", "ko"), add_document(), add_selfie)
    events, _ = derive(digest, current)
    events += derive(None, Snapshot(base=copy.deepcopy(EXAMPLE)))[0]
    assert {STATE_CHANGED, RESULT_CHANGED, DOCUMENT_ADDED, SELFIE_ADDED, RISK_FLAGGED} <= set(
        types(events)
    )
    for event in events:
        assert {k: event.data[k] for k in IDS} == IDS
        assert event.user_id == USER_ID
        assert event.time == OBSERVED_AT


def test_dataschema_names_each_types_schema() -> None:
    """Each event's dataschema names the schema of its own type, version 1."""
    events, _ = derive(None, Snapshot(base=copy.deepcopy(EXAMPLE)))
    assert {e.type: e.dataschema for e in events}[RISK_FLAGGED] == (
        "urn:alice-report-ingestor:schema:onboarding.risk.flagged:v1"
    )


def test_digest_round_trips_through_json() -> None:
    """A stored digest read back from JSON equals the digest that was stored."""
    _, digest = derive(
        None,
        Snapshot(
            base=copy.deepcopy(EXAMPLE),
        ),
    )
    assert digest.risks
    assert SnapshotDigest.model_validate_json(digest.model_dump_json()) == digest
