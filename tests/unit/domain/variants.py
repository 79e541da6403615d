"""Report variants for the derivation tests: small edits of the example report's JSON dict."""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.derive import SnapshotDigest, Thresholds, derive_events
from service.messages import RISK_FLAGGED, DerivedEvent
from service.report import Report, parse_report

EXAMPLE: dict[str, Any] = json.loads(
    (Path(__file__).resolve().parents[2] / "data" / "report-example.json").read_bytes()
)["report"]
USER_ID = "21800ed8-f71c-4ae6-b7fd-16300ca23ca1"
REPORT_ID = "9dcc4f7c-a652-4041-81f9-fa71ba89d6d3"
SELFIE = "82b67e5f-b365-4296-9015-02150b5c1d47"
IDCARD = "b4173cde-78a6-49d4-a028-22c93a2812f7"
PASSPORT = "38dff1e4-5d0d-43af-8b61-4188d7c34374"
IDS = {"user_id": USER_ID, "report_id": REPORT_ID}
OBSERVED_AT = datetime(2024, 3, 5, 10, 30, tzinfo=UTC)  # the example's report is of 2024-03-05
NEW_DOCUMENT_ID = "5a0e7e0c-1111-4c2b-9d3e-0123456789ab"
NEW_SELFIE_ID = "7c9d2b1a-2222-4e5f-8a6b-0123456789cd"

Edit = Callable[[dict[str, Any]], None]


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
    """The summary's, the selfie's and its check's liveness (the emulator keeps them equal)."""

    def edit(report: dict[str, Any]) -> None:
        report["summary"]["face_liveness"] = score
        for selfie in report["selfies"]:
            selfie["liveness"] = score
            for check in selfie["checks"]:
                if check["key"] == "liveness":
                    check["value"] = score

    return edit


def face_matching(*scores: float | None) -> Edit:
    def edit(report: dict[str, Any]) -> None:
        matches = report["summary"]["face_matching"]
        for match, score in zip(matches, scores, strict=True):
            match["score"] = score

    return edit


def duplicates(*ids: str) -> Edit:
    def edit(report: dict[str, Any]) -> None:
        report["duplicates"] = [{"user_id": user_id} for user_id in ids]

    return edit


def document_check(key: str, value: float | None, index: int = 0) -> Edit:
    def edit(report: dict[str, Any]) -> None:
        for check in report["documents"][index]["checks"]:
            if check["key"] == key:
                check["value"] = value

    return edit


def field_check(name: str, key: str, value: float | None, index: int = 0) -> Edit:
    """Set (or add) check `key` on every occurrence of field `name` in document `index`."""

    def edit(report: dict[str, Any]) -> None:
        document = report["documents"][index]
        sides = [s for s in document["sides"].values() if s]
        for field in [f for side in sides for f in side["fields"]]:
            if field["name"] == name:
                field["checks"] = [c for c in field["checks"] if c["key"] != key]
                field["checks"].append({"key": key, "value": value})

    return edit


def user_data_check(name: str, key: str, value: float | None) -> Edit:
    def edit(report: dict[str, Any]) -> None:
        for field in report["summary"]["user_data"]:
            if field["name"] == name:
                field["checks"] = [{"key": key, "value": value}]

    return edit


def user_data_value(name: str, value: str) -> Edit:
    def edit(report: dict[str, Any]) -> None:
        for field in report["summary"]["user_data"]:
            if field["name"] == name:
                field["value"] = value

    return edit


def field_value(name: str, value: str, index: int = 0) -> Edit:
    """Set field `name` of document `index` (summary fields and sides) to `value`."""

    def edit(report: dict[str, Any]) -> None:
        document = report["documents"][index]
        sides = [s for s in document["sides"].values() if s]
        for field in [*document["summary_fields"], *(f for s in sides for f in s["fields"])]:
            if field["name"] == name:
                field["value"] = value

    return edit


def void_document(index: int) -> Edit:
    def edit(report: dict[str, Any]) -> None:
        report["documents"][index]["meta"]["voided"] = True

    return edit


def void_selfie(report: dict[str, Any]) -> None:
    report["selfies"][0]["voided"] = True


def add_trusted_document(otd_id: str, category: str) -> Edit:
    def edit(report: dict[str, Any]) -> None:
        media = {"pdf": {"href": "https://example.invalid/otd.pdf", "extension": "pdf"}}
        otd = {"id": otd_id, "meta": {"category": category, "voided": False}, "media": media}
        report["other_trusted_documents"].append(otd)

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
    """derive_events with the test's observation time and the default thresholds."""
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


def changed(before: Snapshot, after: Snapshot) -> list[DerivedEvent]:
    """The events of `after` compared with `before`."""
    _, digest = derive(None, before)
    return derive(digest, after)[0]
