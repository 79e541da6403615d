"""What minimisation does to derivation: the default rules change no derived event; the opt-in
`birth_dates` rule leaves `holder_under_age` flagged without the holder's age."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from service.derive import Thresholds, derive_events
from service.minimise import RECOMMENDED_RULES, RULES, Minimiser
from service.report import parse_report
from tests.unit.minimise.conftest import emulator_report, real_shaped_bodies

BODIES = real_shaped_bodies()
OBSERVED = datetime(2026, 12, 1, tzinfo=UTC)


def derived(body: bytes) -> list[tuple[str, str, dict[str, Any]]]:
    """(id, type, data) of the events a first snapshot of `body` derives (same hash for all)."""
    report = parse_report(body).report
    events, _ = derive_events(
        None, report, content_hash="h", observed_at=OBSERVED, thresholds=Thresholds()
    )
    return [(e.id, e.type, e.data) for e in events]


@pytest.mark.parametrize(("label", "body"), BODIES, ids=[label for label, _ in BODIES])
def test_the_default_rules_change_no_derived_event(label: str, body: bytes) -> None:
    """Every real-shaped report (the example, each SDK feature of the emulator) derives the same
    events, with the same ids and data, minimised by the default rules as whole."""
    whole = derived(body)
    assert whole, label
    assert derived(Minimiser(RECOMMENDED_RULES).body(body)) == whole


def test_birth_dates_leave_the_under_age_risk_without_an_age() -> None:
    """With `birth_dates`, an under-age holder is still flagged (Alice's `over_18` check), but
    the risk's `age` is null: there is no birth date left to compute it from."""
    body = emulator_report("under_age")
    whole = [data for _, kind, data in derived(body) if data.get("reason") == "holder_under_age"]
    assert whole
    assert all(15 <= data["age"] <= 17 for data in whole)
    minimised = Minimiser(["birth_dates"]).body(body)
    risks = [data for _, k, data in derived(minimised) if data.get("reason") == "holder_under_age"]
    assert [data["document_id"] for data in risks] == [data["document_id"] for data in whole]
    assert {data["age"] for data in risks} == {None}


def test_every_rule_at_once_keeps_the_state_documents_selfies_and_expiry() -> None:
    """Even with every rule on, the expired-document and field-check risks, the state and the
    documents and selfies added are derived as from the whole report."""
    body = emulator_report("expired_document", "failed_consistent_field")
    kinds = {(kind, data.get("reason")) for _, kind, data in derived(Minimiser(RULES).body(body))}
    assert ("onboarding.risk.flagged", "document_expired") in kinds
    assert ("onboarding.risk.flagged", "field_inconsistent") in kinds
    assert kinds >= {
        ("onboarding.user.state_changed", None),
        ("onboarding.document.added", None),
        ("onboarding.selfie.added", None),
    }
    assert kinds == {(kind, data.get("reason")) for _, kind, data in derived(body)}
