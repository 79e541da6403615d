"""The field-level diff between two snapshots of a report (pure)."""

from __future__ import annotations

from service.history.diff import Capture, Change, CheckChange, Device, snapshot_diff
from tests.unit.history.reports import (
    ID_CARD,
    PASSPORT,
    SELFIE,
    document_check,
    example,
    user_field,
    with_id_card_only,
)


def test_identical_reports_have_an_empty_diff() -> None:
    """Two copies of the same report differ in nothing."""
    diff = snapshot_diff(example(), example())
    assert diff.empty


def test_first_snapshot_is_diffed_from_nothing() -> None:
    """The first snapshot shows its state from null and every document and selfie as added."""
    diff = snapshot_diff(None, with_id_card_only())
    assert diff.state == Change("state", None, "TO_REVIEW")
    assert diff.documents_added == [Capture(ID_CARD, "idcard", "ESP")]
    assert [s.id for s in diff.selfies_added] == [SELFIE]
    assert Change("selfie_security", None, "ko") in diff.results
    assert Change("user_data.first_name", None, "CARMEN") in diff.user_data
    assert diff.devices_added == [Device("web", "Macintosh", "203.0.113.24")]


def test_acceptance_with_a_new_document() -> None:
    """TO_REVIEW -> ACCEPTED with the passport added: the state, the document, its
    face-matching score and nothing about the unchanged ID card or selfie."""
    before = with_id_card_only()
    after = example()
    after["summary"]["state"]["value"] = "ACCEPTED"
    diff = snapshot_diff(before, after)
    assert diff.state == Change("state", "TO_REVIEW", "ACCEPTED")
    assert diff.documents_added == [Capture(PASSPORT, "passport", "ESP")]
    assert diff.scores == [
        Change(f"face_matching[document:{PASSPORT},selfie:{SELFIE}]", None, 74.9)
    ]
    assert not diff.selfies_added
    assert not diff.documents_voided
    assert not diff.user_data
    assert all(c.where == f"document:{PASSPORT}" for c in diff.checks)
    assert CheckChange(f"document:{PASSPORT}", "face_matching", None, 74.9) in diff.checks


def test_results_scores_and_checks_that_changed() -> None:
    """A result, the liveness scores and one document check changed: each is listed with its
    value before and after."""
    before = example()
    after = example()
    after["summary"]["result"]["selfie_security"] = "ok"
    after["summary"]["face_liveness"] = 91.0
    after["selfies"][0]["liveness"] = 91.0
    document_check(after, ID_CARD, "not_a_printed_document", 12.0)
    diff = snapshot_diff(before, after)
    assert diff.state is None
    assert diff.results == [Change("selfie_security", "ko", "ok")]
    assert diff.scores == [
        Change("face_liveness", 12.7, 91.0),
        Change(f"liveness[selfie:{SELFIE}]", 12.7, 91.0),
    ]
    assert diff.checks == [CheckChange(f"document:{ID_CARD}", "not_a_printed_document", 88.1, 12.0)]


def test_voided_and_removed_captures() -> None:
    """A document marked voided is listed as voided; a selfie no longer in the report as removed."""
    before = example()
    after = example()
    after["documents"][0]["meta"]["voided"] = True
    after["selfies"] = []
    diff = snapshot_diff(before, after)
    assert diff.documents_voided == [Capture(ID_CARD, "idcard", "ESP")]
    assert not diff.documents_removed
    assert [s.id for s in diff.selfies_removed] == [SELFIE]
    assert not diff.selfies_voided


def test_user_data_fields_that_changed() -> None:
    """Changed user data and external user data fields are listed by name, values raw."""
    before = example()
    after = example()
    user_field(after, "address", "CALLE MAYOR 1, MADRID")
    after["summary"]["external_user_data"]["email"] = "carmen.e@example.com"
    diff = snapshot_diff(before, after)
    assert diff.user_data == [
        Change("external_user_data.email", "carmen@example.com", "carmen.e@example.com"),
        Change("user_data.address", "AVDA DE MADRID S-N, MADRID, MADRID", "CALLE MAYOR 1, MADRID"),
    ]


def test_malformed_parts_read_as_absent() -> None:
    """A report whose summary and lists have the wrong types diffs without failing."""
    broken = {"summary": "not an object", "documents": {"x": 1}, "selfies": [None, 3]}
    diff = snapshot_diff(example(), broken)
    assert diff.state == Change("state", "TO_REVIEW", None)
    assert {c.id for c in diff.documents_removed} == {ID_CARD, PASSPORT}
