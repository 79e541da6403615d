"""Risks across reports: flagged once while open, cleared when gone, duplicates flagged as they
grow, and digests stored by the previous version read without a burst of events."""

from __future__ import annotations

import copy
import json
from typing import Any

from service.derive import SnapshotDigest
from service.events.envelope import data_adapter
from service.messages import RISK_CLEARED, RISK_FLAGGED, DerivedEvent
from tests.unit.domain.variants import (
    EXAMPLE,
    IDCARD,
    IDS,
    SELFIE,
    Snapshot,
    derive,
    document_check,
    duplicates,
    field_check,
    field_value,
    history,
    liveness,
    risks,
    state,
    types,
    void_document,
)

A, B, C = (f"00000000-0000-4000-8000-00000000000{n}" for n in (1, 2, 3))


def cleared(events: list[DerivedEvent]) -> list[dict[str, Any]]:
    return [event.data for event in events if event.type == RISK_CLEARED]


def test_risk_is_flagged_once_while_it_persists() -> None:
    """A risk is flagged when it appears, not again while it persists, even if its value moves."""
    derived = history(Snapshot(), Snapshot(liveness(45.0)), Snapshot(liveness(30.0)))
    assert [len(risks(events)) for events in derived] == [0, 1, 0]


def test_gone_cause_is_cleared_naming_its_flag() -> None:
    """A cause missing from a later report is cleared once, naming the flag event that opened
    it; a cause still open is not."""
    derived = history(
        Snapshot(liveness(45.0), document_check("not_a_printed_document", 30.0)),
        Snapshot(liveness(30.0), document_check("not_a_printed_document", 30.0)),
        Snapshot(document_check("not_a_printed_document", 30.0)),
        Snapshot(document_check("not_a_printed_document", 30.0), state("ACCEPTED")),
    )
    flag = next(e for e in derived[0] if e.data.get("reason") == "liveness_below_threshold")
    assert [cleared(events) for events in derived] == [
        [],
        [],
        [
            {
                **IDS,
                "reason": "liveness_below_threshold",
                "flagged_event_id": flag.id,
                "document_id": None,
                "selfie_id": SELFIE,
                "field": None,
                "check": None,
            }
        ],
        [],
    ]


def test_voiding_a_document_clears_its_risks() -> None:
    """Once its document is voided, a document's expired risk is cleared."""
    expired = field_check("expiration_date", "unexpired_date", 0.0)
    derived = history(Snapshot(expired), Snapshot(expired, void_document(0)))
    assert [(c["reason"], c["document_id"]) for c in cleared(derived[1])] == [
        ("document_expired", IDCARD)
    ]


def test_expires_soon_turning_expired_is_one_cleared_and_one_flagged() -> None:
    """A document that expired since it was flagged as expiring soon changes reason."""
    derived = history(
        Snapshot(field_value("expiration_date", "2024-04-01")),
        Snapshot(field_value("expiration_date", "2024-03-01")),
    )
    assert [r["reason"] for r in risks(derived[1])] == ["document_expired"]
    assert [c["reason"] for c in cleared(derived[1])] == ["document_expires_soon"]


def test_risk_reappearing_twice_gets_distinct_ids() -> None:
    """Each reappearance of a risk is a distinct event with its own id, even if bodies repeat."""
    risky, safe = Snapshot(liveness(45.0)), Snapshot()
    derived = history(risky, safe, risky, safe, risky)
    reappearances = [
        [e.id for e in events if e.type == RISK_FLAGGED] for events in (derived[2], derived[4])
    ]
    assert all(reappearances)
    assert reappearances[0] != reappearances[1]


def test_duplicates_are_flagged_again_when_the_set_grows() -> None:
    """Duplicates are flagged with the count and only the new ids each time new ones appear,
    not when the set stays or shrinks, and cleared when none are left."""
    derived = history(
        Snapshot(duplicates(A)),
        Snapshot(duplicates(A, B, C)),
        Snapshot(duplicates(C, B, A)),
        Snapshot(duplicates(B)),
        Snapshot(),
    )
    assert [risks(events) for events in derived] == [
        [{**IDS, "reason": "duplicates_found", "count": 1, "new_ids": [A]}],
        [{**IDS, "reason": "duplicates_found", "count": 3, "new_ids": [B, C]}],
        [],
        [],
        [],
    ]
    second_flag = next(e.id for e in derived[1] if e.type == RISK_FLAGGED)
    assert [(c["reason"], c["flagged_event_id"]) for c in cleared(derived[4])] == [
        ("duplicates_found", second_flag)
    ]


def test_every_payload_is_exactly_its_types_model_and_holds_no_personal_data() -> None:
    """Every event of a report with every kind of cause validates against its type's exact
    model, and no payload holds a name, document number, address or media link."""
    report = copy.deepcopy(EXAMPLE)
    report["duplicates"] = [{"user_id": A}]
    edits = [
        field_check("birth_date", "over_18", 0.0),
        field_check("first_name", "consistent_field", 0.0),
        field_check("first_name", "complete_mrz_name", 0.0),
        document_check("unexpired_document", 0.0, index=1),
        document_check("authentic_nfc_chip", 90.0),
    ]
    for edit in edits:
        edit(report)
    derived = history(Snapshot(base=report), Snapshot(state("REJECTED")))
    events = [event for events in derived for event in events]
    assert {RISK_FLAGGED, RISK_CLEARED} <= set(types(events))
    text = json.dumps([event.data for event in events])
    for personal in ("CARMEN", "ESPA", "99999999R", "PAA000589", "MADRID", "http", "1980"):
        assert personal not in text
    for event in events:
        assert data_adapter(event.type).validate_python(event.data) is not None


# --- Digests stored by the previous version -------------------------------------------------------
def legacy_digest(current: Snapshot, risks_keys: list[str]) -> SnapshotDigest:
    """A digest as the previous version stored it: no causes, duplicates, voided or OTD ids."""
    stored = {
        "content_hash": "old",
        "sequence": 3,
        "report_id": current.report.id,
        "state": "TO_REVIEW",
        "results": current.report.results,
        "document_ids": [d.id for d in current.report.documents],
        "selfie_ids": [s.id for s in current.report.selfies],
        "risks": risks_keys,
    }
    return SnapshotDigest.model_validate_json(json.dumps(stored))


def test_legacy_digest_replays_no_risk_it_had_flagged_and_clears_nothing() -> None:
    """Against a digest of the previous version, the risks it had flagged (under their old keys)
    are not flagged again, voided documents, duplicates and trusted documents it did not track
    are not announced, and nothing is cleared; only the state change is derived."""
    current = Snapshot(
        liveness(20.0),
        duplicates(A, B),
        void_document(1),
        document_check("not_a_printed_document", 30.0),
        state("ACCEPTED"),
    )
    previous = legacy_digest(
        current,
        [
            "liveness_below_threshold",
            "duplicates_found",
            f"check_failed:document:{IDCARD}:::not_a_printed_document",
            "face_matching_below_threshold",
        ],
    )
    events, digest = derive(previous, current)
    assert types(events) == ["onboarding.user.state_changed"]
    assert digest.causes is not None
    assert digest.duplicate_ids == (A, B)
    follow_up, _ = derive(digest, Snapshot(liveness(20.0), duplicates(A, B), void_document(1)))
    assert [(c["reason"], c["check"]) for c in cleared(follow_up)] == [
        ("check_failed", "not_a_printed_document")
    ]


def test_legacy_digest_still_flags_what_it_never_saw() -> None:
    """A cause the previous version could not see (an under-age holder) is flagged once."""
    current = Snapshot(field_check("birth_date", "over_18", 0.0))
    events, _ = derive(legacy_digest(current, []), current)
    assert [r["reason"] for r in risks(events)] == ["holder_under_age"]
    assert cleared(events) == []
