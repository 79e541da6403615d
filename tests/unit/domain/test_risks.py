"""Risks per cause and per object: which report fact raises which reason, table-tested."""

from __future__ import annotations

from typing import Any

import pytest

from service.derive import Thresholds
from tests.unit.domain.variants import (
    IDCARD,
    IDS,
    PASSPORT,
    SELFIE,
    Edit,
    Snapshot,
    changed,
    derive,
    document_check,
    face_matching,
    field_check,
    field_value,
    liveness,
    risks,
    user_data_check,
    user_data_value,
    void_document,
)

SCORE = {"threshold": 50.0}


@pytest.mark.parametrize(
    ("edits", "expected"),
    [
        pytest.param(
            [liveness(45.0)],
            [{"reason": "liveness_below_threshold", "selfie_id": SELFIE, "value": 45.0}],
            id="low-liveness-is-one-signal",
        ),
        pytest.param(
            [face_matching(40.0, 80.0)],
            [
                {
                    "reason": "face_matching_below_threshold",
                    "document_id": IDCARD,
                    "selfie_id": SELFIE,
                    "value": 40.0,
                }
            ],
            id="face-matching-per-document",
        ),
        pytest.param(
            [face_matching(40.0, 30.0)],
            [
                {
                    "reason": "face_matching_below_threshold",
                    "document_id": PASSPORT,
                    "selfie_id": SELFIE,
                    "value": 30.0,
                },
                {
                    "reason": "face_matching_below_threshold",
                    "document_id": IDCARD,
                    "selfie_id": SELFIE,
                    "value": 40.0,
                },
            ],
            id="face-matching-two-documents",
        ),
        pytest.param(
            [document_check("not_a_printed_document", 30.0)],
            [
                {
                    "reason": "check_failed",
                    "check": "not_a_printed_document",
                    "scope": "document",
                    "owner_id": IDCARD,
                    "value": 30.0,
                }
            ],
            id="document-check",
        ),
        pytest.param(
            [field_check("birth_date", "over_18", 0.0, index=1)],
            [{"reason": "holder_under_age", "document_id": PASSPORT, "age": 44, "value": 0.0}],
            id="under-age-on-a-document",
        ),
        pytest.param(
            [
                user_data_value("birth_date", "2008-07-01"),
                user_data_check("birth_date", "over_18", 0.0),
            ],
            [{"reason": "holder_under_age", "document_id": None, "age": 15, "value": 0.0}],
            id="under-age-in-user-data-only",
        ),
        pytest.param(
            [
                field_check("birth_date", "over_18", 0.0),
                user_data_check("birth_date", "over_18", 0),
            ],
            [{"reason": "holder_under_age", "document_id": IDCARD, "age": 44, "value": 0.0}],
            id="under-age-user-data-repeats-the-document",
        ),
        pytest.param(
            [
                field_check("expiration_date", "unexpired_date", 0.0),
                document_check("unexpired_document", 0.0),
            ],
            [
                {
                    "reason": "document_expired",
                    "document_id": IDCARD,
                    "expiry_date": "2031-06-08",
                    "value": 0.0,
                }
            ],
            id="expired-field-and-document-check-are-one-signal",
        ),
        pytest.param(
            [field_value("expiration_date", "2024-01-31", index=1)],
            [
                {
                    "reason": "document_expired",
                    "document_id": PASSPORT,
                    "expiry_date": "2024-01-31",
                    "value": None,
                }
            ],
            id="expired-by-date-alone",
        ),
        pytest.param(
            [field_check("first_name", "consistent_field", 20.0)],
            [
                {
                    "reason": "field_inconsistent",
                    "document_id": IDCARD,
                    "field": "first_name",
                    "value": 20.0,
                }
            ],
            id="field-inconsistent",
        ),
        pytest.param(
            [field_check("first_name", "complete_mrz_name", 0.0, index=1)],
            [
                {
                    "reason": "mrz_name_incomplete",
                    "document_id": PASSPORT,
                    "field": "first_name",
                    "value": 0.0,
                }
            ],
            id="mrz-name-incomplete",
        ),
        pytest.param(
            [field_check("birth_date", "valid_date_format", 0.0)],
            [
                {
                    "reason": "field_check_failed",
                    "check": "valid_date_format",
                    "document_id": IDCARD,
                    "field": "birth_date",
                    "value": 0.0,
                }
            ],
            id="other-field-check-once-for-two-sides",
        ),
        pytest.param(
            [void_document(0), document_check("not_a_printed_document", 30.0)],
            [],
            id="voided-document-raises-nothing",
        ),
    ],
)
def test_report_fact_raises_its_reason(edits: list[Edit], expected: list[dict[str, Any]]) -> None:
    """Each report fact raises exactly its reason, once, about its object, with its score."""
    flagged = risks(changed(Snapshot(), Snapshot(*edits)))
    scored = {"liveness_below_threshold", "face_matching_below_threshold", "check_failed"}
    scored |= {"holder_under_age", "document_expired", "field_inconsistent"}
    scored |= {"mrz_name_incomplete", "field_check_failed"}
    assert flagged == [
        {**IDS, **item, **(SCORE if item["reason"] in scored else {})} for item in expected
    ]


def test_expiry_within_the_window_flags_expires_soon() -> None:
    """A document expiring within the warning window flags document_expires_soon with the days
    left; with a shorter window it does not."""
    soon = Snapshot(field_value("expiration_date", "2024-04-04", index=1))
    events, _ = derive(None, soon, Thresholds(expiry_warning_days=30))
    assert risks(events) == [
        {
            **IDS,
            "reason": "document_expires_soon",
            "document_id": PASSPORT,
            "expiry_date": "2024-04-04",
            "days_left": 30,
            "window_days": 30,
        }
    ]
    events, _ = derive(None, soon, Thresholds(expiry_warning_days=29))
    assert risks(events) == []


@pytest.mark.parametrize(
    ("edit", "thresholds", "flagged"),
    [
        pytest.param(liveness(45.0), Thresholds(liveness=50.0), ["liveness"], id="liveness-50"),
        pytest.param(liveness(45.0), Thresholds(liveness=40.0), [], id="liveness-40"),
        pytest.param(
            face_matching(45.0, 90.0),
            Thresholds(face_matching=50.0),
            ["face_matching"],
            id="fm-50",
        ),
        pytest.param(face_matching(45.0, 90.0), Thresholds(face_matching=40.0), [], id="fm-40"),
        pytest.param(
            document_check("not_a_printed_document", 45.0),
            Thresholds(check=50.0),
            ["check"],
            id="check-50",
        ),
        pytest.param(
            document_check("not_a_printed_document", 45.0), Thresholds(check=40.0), [], id="c-40"
        ),
    ],
)
def test_thresholds_are_honoured(edit: Edit, thresholds: Thresholds, flagged: list[str]) -> None:
    """A score flags a risk only when below its configured threshold, which the event carries."""
    events, _ = derive(None, Snapshot(edit), thresholds)
    assert [r["threshold"] for r in risks(events)] == [getattr(thresholds, t) for t in flagged]


def test_null_scores_never_flag() -> None:
    """Null liveness, face matching and check values never flag, even at a threshold of 100."""
    report = Snapshot(liveness(None), face_matching(None, None)).report.model_dump(mode="json")
    for item in [report["summary"], *report["selfies"], *report["documents"]]:
        for check in item.get("checks") or []:
            check["value"] = None
    for document in report["documents"]:
        for side in [s for s in document["sides"].values() if s]:
            for field in side["fields"]:
                field["checks"] = []
    for field in report["summary"]["user_data"]:
        field["checks"] = []
    strictest = Thresholds(liveness=100.0, face_matching=100.0, check=100.0, expiry_warning_days=0)
    events, digest = derive(None, Snapshot(base=report), strictest)
    assert risks(events) == []
    assert digest.risks == ()


def test_thresholds_default_to_fifty() -> None:
    """Every threshold defaults to Alice's recommended 50, the expiry window to 90 days."""
    assert Thresholds() == Thresholds(
        liveness=50.0, face_matching=50.0, check=50.0, expiry_warning_days=90
    )
