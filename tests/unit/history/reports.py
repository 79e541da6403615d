"""Report objects for the history tests, built from the example report (tests/data)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

EXAMPLE = json.loads(
    (Path(__file__).resolve().parents[2] / "data" / "report-example.json").read_text()
)["report"]
ID_CARD = "b4173cde-78a6-49d4-a028-22c93a2812f7"
PASSPORT = "38dff1e4-5d0d-43af-8b61-4188d7c34374"
SELFIE = "82b67e5f-b365-4296-9015-02150b5c1d47"


def example() -> dict[str, Any]:
    """A fresh copy of the example's report object (TO_REVIEW, an ID card and a passport)."""
    return copy.deepcopy(EXAMPLE)


def with_id_card_only() -> dict[str, Any]:
    """The example without its passport (and its face-matching pair)."""
    report = example()
    report["documents"] = [d for d in report["documents"] if d["id"] == ID_CARD]
    summary = report["summary"]
    summary["face_matching"] = [
        m for m in summary["face_matching"] if m["meta"]["document_id"] == ID_CARD
    ]
    return report


def user_field(report: dict[str, Any], name: str, value: Any) -> None:
    """Set one `summary.user_data` field's value."""
    (field,) = [f for f in report["summary"]["user_data"] if f["name"] == name]
    field["value"] = value


def document_check(report: dict[str, Any], document_id: str, key: str, value: Any) -> None:
    """Set one check's value on one document."""
    (document,) = [d for d in report["documents"] if d["id"] == document_id]
    (check,) = [c for c in document["checks"] if c["key"] == key]
    check["value"] = value
