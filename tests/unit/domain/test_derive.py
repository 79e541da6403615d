"""Derivation of state changes between two snapshots of a user's report, table-tested."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from service.derive import (
    CHECK_FAILED,
    DUPLICATES,
    FACE_MATCHING,
    LIVENESS,
    SnapshotDigest,
    Thresholds,
    derive_events,
)
from service.messages import (
    DOCUMENT_ADDED,
    RESULT_CHANGED,
    RISK_FLAGGED,
    SELFIE_ADDED,
    STATE_CHANGED,
    DerivedEvent,
)
from service.report import Report, parse_report

EXAMPLE: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "data" / "report-example.json").read_bytes()
)["report"]
USER_ID = EXAMPLE["user_id"]
REPORT_ID = EXAMPLE["id"]
OBSERVED_AT = datetime(2024, 3, 5, 10, 30, tzinfo=UTC)
NEW_DOCUMENT_ID = "5a0e7e0c-1111-4c2b-9d3e-0123456789ab"
NEW_SELFIE_ID = "7c9d2b1a-2222-4e5f-8a6b-0123456789cd"

Edit = Callable[[dict[str, Any]], None]


# --- Report variants: small edits of the example's JSON dict -------------------------------------
def clean() -> dict[str, Any]:
    """The example with every risk removed: good liveness, good checks, no duplicates."""
    report: dict[str, Any] = copy.deepcopy(EXAMPLE)
    report["summary"]["face_liveness"] = 90.0
    for selfie in report["selfies"]:
        selfie["liveness"] = 90.0
        for check in selfie["checks"]:
            if check["key"] == "liveness":
                check["value"] = 90.0
    report["duplicates"] = []
    return report


def state(value: str) -> Edit:
    def edit(report: dict[str, Any]) -> None:
        report["summary"]["state"] = {"value": value}

    return edit


def result(dimension: str, value: str | None) -> Edit:
    def edit(report: dict[str, Any]) -> None:
        report["summary"]["result"][dimension] = value

    return edit


def add_document(doc_type: str = "driverlicense", country: str = "FRA") -> Edit:
    def edit(report: dict[str, Any]) -> None:
        document = copy.deepcopy(report["documents"][0])
        document["id"] = NEW_DOCUMENT_ID
        document["meta"]["type"] = doc_type
        document["meta"]["issuing_country"] = country
        report["documents"].append(document)

    return edit


def add_selfie(report: dict[str, Any]) -> None:
    selfie = copy.deepcopy(report["selfies"][0])
    selfie["id"] = NEW_SELFIE_ID
    report["selfies"].append(selfie)


def liveness(score: float | None) -> Edit:
    def edit(report: dict[str, Any]) -> None:
        report["summary"]["face_liveness"] = score

    return edit


def face_matching(*scores: float | None) -> Edit:
    def edit(report: dict[str, Any]) -> None:
        matches = report["summary"]["face_matching"]
        for match, score in zip(matches, scores, strict=True):
            match["score"] = score

    return edit


def duplicates(count: int) -> Edit:
    def edit(report: dict[str, Any]) -> None:
        report["duplicates"] = [{"user_id": f"other-{n}"} for n in range(count)]

    return edit


def document_check(key: str, value: float | None, index: int = 0) -> Edit:
    def edit(report: dict[str, Any]) -> None:
        for check in report["documents"][index]["checks"]:
            if check["key"] == key:
                check["value"] = value

    return edit


def variant(*edits: Edit) -> dict[str, Any]:
    report = clean()
    for edit in edits:
        edit(report)
    return report


class Snapshot:
    """A parsed report variant and the hash of its body, as the use case would hand them over."""

    def __init__(self, *edits: Edit, base: dict[str, Any] | None = None) -> None:
        report = base if base is not None else variant(*edits)
        body = json.dumps({"report": report}).encode()
        self.report: Report = parse_report(body).report
        self.content_hash = hashlib.sha256(body).hexdigest()


def derive(
    previous: SnapshotDigest | None, current: Snapshot, thresholds: Thresholds | None = None
) -> tuple[list[DerivedEvent], SnapshotDigest]:
    return derive_events(
        previous,
        current.report,
        content_hash=current.content_hash,
        observed_at=OBSERVED_AT,
        thresholds=thresholds or Thresholds(),
    )


def history(*snapshots: Snapshot) -> list[list[DerivedEvent]]:
    """The events of each snapshot in turn, each compared with the one before."""
    digest: SnapshotDigest | None = None
    derived = []
    for snapshot in snapshots:
        events, digest = derive(digest, snapshot)
        derived.append(events)
    return derived


def types(events: list[DerivedEvent]) -> list[str]:
    return [event.type for event in events]


def risks(events: list[DerivedEvent]) -> list[dict[str, Any]]:
    return [event.data for event in events if event.type == RISK_FLAGGED]


# --- First snapshot ------------------------------------------------------------------------------
def test_first_snapshot_of_example() -> None:
    """A first snapshot derives the state from null, every document and selfie, and open risks."""
    events, _ = derive(None, Snapshot(base=copy.deepcopy(EXAMPLE)))
    assert types(events).count(STATE_CHANGED) == 1
    assert RESULT_CHANGED not in types(events)
    state_changed = next(e for e in events if e.type == STATE_CHANGED)
    assert state_changed.data["from"] is None
    assert state_changed.data["to"] == "TO_REVIEW"
    assert state_changed.data["results"] == {
        "selfie_security": "ko",
        "document_security": "ok",
        "document_read": "ok",
        "process_security": "ok",
    }
    assert [
        (e.data["document_id"], e.data["type"], e.data["issuing_country"])
        for e in events
        if e.type == DOCUMENT_ADDED
    ] == [(d["id"], d["meta"]["type"], d["meta"]["issuing_country"]) for d in EXAMPLE["documents"]]
    assert [e.data["selfie_id"] for e in events if e.type == SELFIE_ADDED] == [
        s["id"] for s in EXAMPLE["selfies"]
    ]
    flagged = {(r["reason"], r.get("check")) for r in risks(events)}
    assert flagged == {(LIVENESS, None), (CHECK_FAILED, "liveness")}
    liveness_risk = next(r for r in risks(events) if r["reason"] == LIVENESS)
    assert (liveness_risk["value"], liveness_risk["threshold"]) == (12.7, 50.0)


def test_first_snapshot_without_risks_flags_nothing() -> None:
    """A first snapshot with no score below threshold derives no risk.flagged."""
    events, _ = derive(None, Snapshot())
    assert RISK_FLAGGED not in types(events)
    assert types(events).count(DOCUMENT_ADDED) == len(EXAMPLE["documents"])


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
            [(STATE_CHANGED, {"from": "TO_REVIEW", "to": "ACCEPTED"})],
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
            liveness(45.0),
            [(RISK_FLAGGED, {"reason": LIVENESS, "value": 45.0, "threshold": 50.0})],
            id="liveness-risk",
        ),
        pytest.param(
            face_matching(40.0, 80.0),
            [(RISK_FLAGGED, {"reason": FACE_MATCHING, "value": 40.0, "threshold": 50.0})],
            id="face-matching-risk",
        ),
        pytest.param(
            duplicates(2), [(RISK_FLAGGED, {"reason": DUPLICATES, "count": 2})], id="duplicates"
        ),
        pytest.param(
            document_check("not_a_printed_document", 30.0),
            [
                (
                    RISK_FLAGGED,
                    {
                        "reason": CHECK_FAILED,
                        "check": "not_a_printed_document",
                        "scope": "document",
                        "owner_id": EXAMPLE["documents"][0]["id"],
                        "value": 30.0,
                        "threshold": 50.0,
                    },
                )
            ],
            id="check-failed",
        ),
        pytest.param(liveness(None), [], id="null-liveness"),
        pytest.param(face_matching(None, None), [], id="null-face-matching"),
        pytest.param(document_check("consistent_document", None), [], id="null-check"),
        pytest.param(liveness(50.0), [], id="liveness-at-threshold-passes"),
    ],
)
def test_one_change_derives_exactly_its_event(
    edit: Edit, expected: list[tuple[str, dict[str, Any]]]
) -> None:
    """One change between two snapshots derives exactly the events of that change, and no others."""
    _, digest = derive(None, Snapshot())
    events, _ = derive(digest, Snapshot(edit))
    assert types(events) == [event_type for event_type, _ in expected]
    for event, (_, fields) in zip(events, expected, strict=True):
        assert fields.items() <= event.data.items()


def test_state_change_carries_current_results() -> None:
    """A state change carries the current results of all four dimensions."""
    _, digest = derive(None, Snapshot())
    events, _ = derive(digest, Snapshot(state("REJECTED"), result("selfie_security", "ok")))
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
    _, digest = derive(None, Snapshot(state("IN_PROGRESS")))
    events, _ = derive(digest, Snapshot(state("INPROGRESS")))
    assert STATE_CHANGED not in types(events)


# --- Risks: flagged when they appear -------------------------------------------------------------
def test_risk_is_flagged_once_while_it_persists() -> None:
    """A risk is flagged when it appears, not again while it persists, even if its value moves."""
    derived = history(Snapshot(), Snapshot(liveness(45.0)), Snapshot(liveness(30.0)))
    assert [len(risks(events)) for events in derived] == [0, 1, 0]


def test_risk_present_on_first_snapshot_is_not_reflagged() -> None:
    """A risk open on the first snapshot is flagged then, not again on the next snapshot."""
    derived = history(Snapshot(liveness(45.0)), Snapshot(liveness(45.0), state("ACCEPTED")))
    assert [len(risks(events)) for events in derived] == [1, 0]


def test_risk_that_disappears_and_reappears_is_flagged_again() -> None:
    """A risk that disappears and then reappears is flagged again, with a new id."""
    derived = history(Snapshot(liveness(45.0)), Snapshot(), Snapshot(liveness(40.0)))
    assert [len(risks(events)) for events in derived] == [1, 0, 1]
    first, _, again = derived
    assert [e.id for e in first if e.type == RISK_FLAGGED] != [
        e.id for e in again if e.type == RISK_FLAGGED
    ]


def test_risk_reappearing_twice_gets_distinct_ids() -> None:
    """Each reappearance of a risk is a distinct event with its own id, even if bodies repeat."""
    risky, safe = Snapshot(liveness(45.0)), Snapshot()
    derived = history(risky, safe, risky, safe, risky)
    reappearances = [
        [e.id for e in events if e.type == RISK_FLAGGED] for events in (derived[2], derived[4])
    ]
    assert all(reappearances)
    assert reappearances[0] != reappearances[1]


THRESHOLD_OF = {LIVENESS: "liveness", FACE_MATCHING: "face_matching", CHECK_FAILED: "check"}


@pytest.mark.parametrize(
    ("edit", "thresholds", "flagged"),
    [
        pytest.param(liveness(45.0), Thresholds(), [LIVENESS], id="liveness-45-default"),
        pytest.param(liveness(45.0), Thresholds(liveness=50.0), [LIVENESS], id="liveness-45-at-50"),
        pytest.param(liveness(45.0), Thresholds(liveness=40.0), [], id="liveness-45-at-40"),
        pytest.param(
            face_matching(45.0, 90.0),
            Thresholds(face_matching=50.0),
            [FACE_MATCHING],
            id="fm-at-50",
        ),
        pytest.param(face_matching(45.0, 90.0), Thresholds(face_matching=40.0), [], id="fm-at-40"),
        pytest.param(
            document_check("not_a_printed_document", 45.0),
            Thresholds(check=50.0),
            [CHECK_FAILED],
            id="check-at-50",
        ),
        pytest.param(
            document_check("not_a_printed_document", 45.0),
            Thresholds(check=40.0),
            [],
            id="check-at-40",
        ),
    ],
)
def test_thresholds_are_honoured(edit: Edit, thresholds: Thresholds, flagged: list[str]) -> None:
    """A score flags a risk only when below its configured threshold, which the event carries."""
    events, _ = derive(None, Snapshot(edit), thresholds)
    assert [r["reason"] for r in risks(events)] == flagged
    for risk in risks(events):
        assert risk["threshold"] == getattr(thresholds, THRESHOLD_OF[risk["reason"]])


def test_null_scores_never_flag() -> None:
    """Null liveness, face matching and check values never flag, even at a threshold of 100."""
    report = variant(liveness(None), face_matching(None, None))
    for item in [report["summary"], *report["selfies"], *report["documents"]]:
        for check in item.get("checks") or []:
            check["value"] = None
    strictest = Thresholds(liveness=100.0, face_matching=100.0, check=100.0)
    events, digest = derive(None, Snapshot(base=report), strictest)
    assert risks(events) == []
    assert digest.risks == ()


def test_thresholds_default_to_fifty() -> None:
    """Every threshold defaults to Alice's recommended 50."""
    assert Thresholds() == Thresholds(liveness=50.0, face_matching=50.0, check=50.0)


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
    assert set(types(events)) == {
        STATE_CHANGED,
        RESULT_CHANGED,
        DOCUMENT_ADDED,
        SELFIE_ADDED,
        RISK_FLAGGED,
    }
    for event in events:
        assert (event.data["user_id"], event.data["report_id"]) == (USER_ID, REPORT_ID)
        assert event.user_id == USER_ID
        assert event.time == OBSERVED_AT


def test_digest_round_trips_through_json() -> None:
    """A stored digest read back from JSON equals the digest that was stored."""
    _, digest = derive(None, Snapshot(base=copy.deepcopy(EXAMPLE)))
    assert digest.risks
    assert SnapshotDigest.model_validate_json(digest.model_dump_json()) == digest
