"""Derivation of state changes between two snapshots of a user's report. Pure.

A snapshot is summarised by a `SnapshotDigest` (what derivation compares, stored with the user),
so the next report is compared without re-reading or re-parsing the previous one. The same
previous digest and the same report always give the same events with the same ids.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from service.messages import (
    DOCUMENT_ADDED,
    RESULT_CHANGED,
    RISK_FLAGGED,
    SELFIE_ADDED,
    STATE_CHANGED,
    DerivedEvent,
    derived_event_id,
)
from service.report import Report, failed_checks

LIVENESS = "liveness_below_threshold"
FACE_MATCHING = "face_matching_below_threshold"
DUPLICATES = "duplicates_found"
CHECK_FAILED = "check_failed"


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Scores below these flag a risk (Alice recommends 50 for each)."""

    liveness: float = 50.0
    face_matching: float = 50.0
    check: float = 50.0


class SnapshotDigest(BaseModel):
    """What derivation needs of a stored snapshot; JSON-storable."""

    model_config = ConfigDict(frozen=True)

    content_hash: str
    sequence: int = 1  # how many snapshots of the user so far: ids of A->B->A->B differ
    report_id: str
    state: str | None
    results: dict[str, str | None]
    document_ids: tuple[str, ...]
    selfie_ids: tuple[str, ...]
    risks: tuple[str, ...]


def open_risks(report: Report, thresholds: Thresholds) -> dict[str, dict[str, Any]]:
    """The risks present in a report, by a stable key, with the fields of their event."""
    risks: dict[str, dict[str, Any]] = {}
    summary = report.summary
    liveness = summary.face_liveness if summary is not None else None
    if liveness is not None and liveness < thresholds.liveness:
        risks[LIVENESS] = {"reason": LIVENESS, "value": liveness, "threshold": thresholds.liveness}
    scores = [m.score for m in (summary.face_matching if summary else []) if m.score is not None]
    if scores and min(scores) < thresholds.face_matching:
        risks[FACE_MATCHING] = {
            "reason": FACE_MATCHING,
            "value": min(scores),
            "threshold": thresholds.face_matching,
        }
    if report.duplicates:
        risks[DUPLICATES] = {"reason": DUPLICATES, "count": len(report.duplicates)}
    for check in failed_checks(report, threshold=thresholds.check):
        where = ":".join(p or "" for p in (check.scope, check.owner_id, check.side, check.field))
        risks[f"{CHECK_FAILED}:{where}:{check.key}"] = {
            "reason": CHECK_FAILED,
            "check": check.key,
            "scope": check.scope,
            "owner_id": check.owner_id,
            "field": check.field,
            "value": check.value,
            "threshold": thresholds.check,
        }
    return risks


def _document_ids(report: Report) -> tuple[str, ...]:
    return tuple(d.id for d in report.documents if d.id)


def _selfie_ids(report: Report) -> tuple[str, ...]:
    return tuple(s.id for s in report.selfies if s.id)


def derive_events(
    previous: SnapshotDigest | None,
    current: Report,
    *,
    content_hash: str,
    observed_at: datetime,
    thresholds: Thresholds,
) -> tuple[list[DerivedEvent], SnapshotDigest]:
    """The events that lead from `previous` to `current`, and the digest of `current`.

    First snapshot: the state (from null), every document and selfie, every open risk.
    Later: what changed; a risk is flagged when it appears, not again while it persists.
    A report identical to the previous one derives nothing.
    """
    risks = open_risks(current, thresholds)
    digest = SnapshotDigest(
        content_hash=content_hash,
        sequence=previous.sequence + 1 if previous else 1,
        report_id=current.id,
        state=current.user_state,
        results=current.results,
        document_ids=_document_ids(current),
        selfie_ids=_selfie_ids(current),
        risks=tuple(sorted(risks)),
    )
    if previous is not None and previous.content_hash == content_hash:
        return [], previous
    user_id, report_id = current.user_id, current.id
    transition = f"{digest.sequence}:{previous.content_hash if previous else '-'}>{content_hash}"
    events: list[DerivedEvent] = []

    def emit(event_type: str, what: str, fields: dict[str, Any]) -> None:
        events.append(
            DerivedEvent(
                id=derived_event_id(user_id, event_type, f"{transition}|{what}"),
                type=event_type,
                user_id=user_id,
                time=observed_at,
                data={"user_id": user_id, "report_id": report_id, **fields},
            )
        )

    before_state = previous.state if previous else None
    if digest.state is not None and (previous is None or before_state != digest.state):
        emit(
            STATE_CHANGED,
            "state",
            {"from": before_state, "to": digest.state, "results": dict(digest.results)},
        )
    if previous is not None:
        for dimension, value in digest.results.items():
            before = previous.results.get(dimension)
            if before != value:
                emit(
                    RESULT_CHANGED,
                    dimension,
                    {"dimension": dimension, "from": before, "to": value},
                )
    known_documents = set(previous.document_ids if previous else ())
    for document in current.documents:
        if document.id and document.id not in known_documents:
            meta = document.meta
            emit(
                DOCUMENT_ADDED,
                document.id,
                {
                    "document_id": document.id,
                    "type": meta.type if meta else None,
                    "issuing_country": meta.issuing_country if meta else None,
                },
            )
    known_selfies = set(previous.selfie_ids if previous else ())
    for selfie_id in digest.selfie_ids:
        if selfie_id not in known_selfies:
            emit(SELFIE_ADDED, selfie_id, {"selfie_id": selfie_id})
    known_risks = set(previous.risks if previous else ())
    for key in digest.risks:
        if key not in known_risks:
            emit(RISK_FLAGGED, key, risks[key])
    return events, digest
