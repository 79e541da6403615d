"""Property test: every report shape Alice's SDK accepts is parsed, kept and derived from."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings

from service.derive import Thresholds, derive_events
from service.report import best_user_data, document_number, failed_checks, parse_report
from tests.unit import sdk_schema
from tests.unit.report.sdk_shapes import sdk_reports

OBSERVED_AT = datetime(2026, 1, 1, tzinfo=UTC)


def _body(report: dict[str, Any]) -> bytes:
    return json.dumps({"report": report}, ensure_ascii=False).encode()


@settings(
    max_examples=200,
    deadline=None,
    # The explain phase re-runs a failure hundreds of times over large reports: too slow here.
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(first=sdk_reports, second=sdk_reports)
def test_every_report_the_sdk_accepts_parses_and_derives(
    first: dict[str, Any], second: dict[str, Any]
) -> None:
    """A report of any shape the SDK accepts parses, keeps its exact bytes, answers the
    queries, and derives events both as a first snapshot and after another report."""
    digest = None
    for report in (first, second):
        body = _body(report)
        sdk_schema.Report.model_validate(report)  # the generator's own sanity
        parsed = parse_report(body, expected_user_id=report["user_id"])
        assert parsed.raw == body
        assert parsed.report.id == report["id"]
        assert parsed.report.user_id == report["user_id"]
        assert len(parsed.report.documents) == len(report["documents"])
        assert len(parsed.report.events) == len(report["events"])
        failed_checks(parsed.report, include_fields=True)
        best_user_data(parsed.report, "first_name")
        for document in parsed.report.documents:
            document_number(document)
        _, digest = derive_events(
            digest,
            parsed.report,
            content_hash=hashlib.sha256(body).hexdigest(),
            observed_at=OBSERVED_AT,
            thresholds=Thresholds(),
        )
        assert digest.report_id == report["id"]
