"""Selfie, document and summary causes, and `open_causes`: every risk cause of a report.

Pure. Each cause has a stable key (reason and the ids, field and check it is about), so that a
later report's causes can be compared: a new key is flagged, a missing key is cleared. Every
cause also carries the `risk.flagged` data that announces it.

One signal per cause: a selfie's low liveness is one cause (its score, its `liveness` check and
the summary's `face_liveness` say the same thing); a document's face matching is one cause per
(document, selfie) pair; a field check found on several sides of a document is one cause with
the lowest score. Summary-level facts (summary liveness, user data fields) count only when no
selfie or document shows the same reason. Voided selfies and documents raise no risk.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date

from service.events import data as d
from service.report import Document, DocumentField, Report
from service.risks.causes import Cause, Collector, Thresholds, first_date
from service.risks.fields import EXPIRATION_DATE, field_causes

NFC_CHECK = "authentic_nfc_chip"


def _document_causes(
    out: Collector, document: Document, day: date, t: Thresholds, *, matched: bool
) -> None:
    document_id = document.id or ""
    ids = {"user_id": out.user_id, "report_id": out.report_id}
    fields: list[DocumentField] = list(document.summary_fields)
    for side in document.sides.present() if document.sides is not None else []:
        fields += side.fields
    field_causes(out, fields, document_id, day, t.check)
    expiry = first_date(fields, EXPIRATION_DATE)
    for check in document.checks:
        if check.value is None or check.value >= t.check:
            continue
        score = {"value": check.value, "threshold": t.check}
        if check.key == "unexpired_document":
            flagged: d.EventData = d.DocumentExpiredRisk(
                reason=d.EXPIRED, document_id=document_id, expiry_date=expiry, **ids, **score
            )
            out.add(Cause(d.EXPIRED, flagged, document_id), check.value)
        elif check.key == "face_matching":
            if matched:
                continue  # the summary's per-selfie entries for this document are the cause
            flagged = d.FaceMatchingRisk(
                reason=d.FACE_MATCHING, document_id=document_id, selfie_id=None, **ids, **score
            )
            out.add(Cause(d.FACE_MATCHING, flagged, document_id), check.value)
        else:
            flagged = d.CheckFailedRisk(
                reason=d.CHECK_FAILED,
                check=check.key,
                scope="document",
                owner_id=document_id,
                **ids,
                **score,
            )
            out.add(Cause(d.CHECK_FAILED, flagged, document_id, check=check.key), check.value)
    if expiry is None:
        return
    days_left = (expiry - day).days
    expired = Cause(d.EXPIRED, d.EventData(**ids), document_id)
    if days_left < 0 and expired.key not in out.causes:
        flagged = d.DocumentExpiredRisk(
            reason=d.EXPIRED,
            document_id=document_id,
            expiry_date=expiry,
            value=None,
            threshold=t.check,
            **ids,
        )
        out.add(Cause(d.EXPIRED, flagged, document_id))
    elif 0 <= days_left <= t.expiry_warning_days and expired.key not in out.causes:
        flagged = d.DocumentExpiresSoonRisk(
            reason=d.EXPIRES_SOON,
            document_id=document_id,
            expiry_date=expiry,
            days_left=days_left,
            window_days=t.expiry_warning_days,
            **ids,
        )
        out.add(Cause(d.EXPIRES_SOON, flagged, document_id))


def _selfie_causes(out: Collector, report: Report, t: Thresholds) -> bool:
    """Selfie causes; True when some selfie has a liveness score (the summary's is then moot)."""
    ids = {"user_id": out.user_id, "report_id": out.report_id}
    scored = False
    for selfie in report.selfies:
        if selfie.voided:
            continue
        liveness = selfie.liveness
        if liveness is None:
            liveness = next((c.value for c in selfie.checks if c.key == "liveness"), None)
        scored = scored or liveness is not None
        if liveness is not None and liveness < t.liveness:
            flagged: d.EventData = d.LivenessRisk(
                reason=d.LIVENESS, selfie_id=selfie.id, value=liveness, threshold=t.liveness, **ids
            )
            out.add(Cause(d.LIVENESS, flagged, selfie_id=selfie.id), liveness)
        for check in selfie.checks:
            if check.key == "liveness" or check.value is None or check.value >= t.check:
                continue
            flagged = d.CheckFailedRisk(
                reason=d.CHECK_FAILED,
                check=check.key,
                scope="selfie",
                owner_id=selfie.id,
                value=check.value,
                threshold=t.check,
                **ids,
            )
            out.add(Cause(d.CHECK_FAILED, flagged, selfie_id=selfie.id, check=check.key))
    return scored


def _summary_causes(out: Collector, report: Report, t: Thresholds, *, selfie_scored: bool) -> None:
    ids = {"user_id": out.user_id, "report_id": out.report_id}
    summary = report.summary
    if summary is None:
        return
    liveness = summary.face_liveness
    if not selfie_scored and liveness is not None and liveness < t.liveness:
        flagged: d.EventData = d.LivenessRisk(
            reason=d.LIVENESS, selfie_id=None, value=liveness, threshold=t.liveness, **ids
        )
        out.add(Cause(d.LIVENESS, flagged))
    for check in summary.checks:
        if check.value is None or check.value >= t.check:
            continue
        flagged = d.CheckFailedRisk(
            reason=d.CHECK_FAILED,
            check=check.key,
            scope="summary",
            owner_id=None,
            value=check.value,
            threshold=t.check,
            **ids,
        )
        out.add(Cause(d.CHECK_FAILED, flagged, check=check.key), check.value)


def open_causes(report: Report, thresholds: Thresholds, day: date) -> dict[str, Cause]:
    """Every risk cause of the report by key (duplicates excepted: see `duplicate_ids`);
    `day` is the report's date, against which ages and expiry dates are computed."""
    out = Collector((report.user_id, report.id))
    voided = {doc.id for doc in report.documents if doc.meta is not None and doc.meta.voided}
    voided |= {selfie.id for selfie in report.selfies if selfie.voided}
    matched: set[str | None] = set()
    summary = report.summary
    for match in summary.face_matching if summary is not None else []:
        meta = match.meta
        document_id, selfie_id = (meta.document_id, meta.selfie_id) if meta else (None, None)
        if match.score is None or document_id in voided or selfie_id in voided:
            continue
        matched.add(document_id)
        if match.score < thresholds.face_matching:
            flagged = d.FaceMatchingRisk(
                reason=d.FACE_MATCHING,
                document_id=document_id,
                selfie_id=selfie_id,
                value=match.score,
                threshold=thresholds.face_matching,
                user_id=out.user_id,
                report_id=out.report_id,
            )
            out.add(Cause(d.FACE_MATCHING, flagged, document_id, selfie_id), match.score)
    selfie_scored = _selfie_causes(out, report, thresholds)
    for document in report.documents:
        if document.id and document.id not in voided:
            _document_causes(out, document, day, thresholds, matched=document.id in matched)
    _summary_causes(out, report, thresholds, selfie_scored=selfie_scored)
    if summary is not None:
        # Best-read user data: only for reasons no document shows (the same fact, summarised).
        shown = out.reasons()
        user_data = Collector((out.user_id, out.report_id))
        field_causes(user_data, summary.user_data, None, day, thresholds.check)
        for key, cause in user_data.causes.items():
            if cause.reason not in shown:
                out.causes[key] = cause
    return out.causes


def duplicate_ids(report: Report) -> tuple[str, ...]:
    """A stable id per listed duplicate: its `user_id` or `id`, else a digest of the entry.

    The entry's schema is not published; a digest (never the entry) keeps personal data out.
    """
    found: list[str] = []
    for entry in report.duplicates:
        if isinstance(entry, dict):
            named = entry.get("user_id") or entry.get("id")
            if isinstance(named, str) and named:
                found.append(named)
                continue
        if isinstance(entry, str) and entry:
            found.append(entry)
            continue
        canonical = json.dumps(entry, sort_keys=True, separators=(",", ":"), default=str)
        found.append("sha256:" + hashlib.sha256(canonical.encode()).hexdigest()[:32])
    return tuple(sorted(set(found)))
