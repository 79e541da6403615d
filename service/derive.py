"""Derivation of state changes between two snapshots of a user's report. Pure.

A snapshot is summarised by a `SnapshotDigest` (what derivation compares, stored with the user),
so the next report is compared without re-reading or re-parsing the previous one. The same
previous digest and the same report always give the same events with the same ids.

Digests stored before the per-cause risks (no `causes`) are read as a baseline: what they knew is
not announced again and nothing is cleared against them (`legacy_known`), so an upgrade never
replays or clears risks by itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Final

from pydantic import BaseModel, ConfigDict

from service.events import data as d
from service.events.envelope import (
    DOCUMENT_ADDED,
    DOCUMENT_NFC_VERIFIED,
    DOCUMENT_VOIDED,
    RESULT_CHANGED,
    RISK_CLEARED,
    RISK_FLAGGED,
    SELFIE_ADDED,
    SELFIE_VOIDED,
    STATE_CHANGED,
    TRUSTED_DOCUMENT_ADDED,
    DerivedEvent,
    derived_event,
)
from service.report import Report
from service.risks import NFC_CHECK, Cause, Thresholds, duplicate_ids, open_causes

__all__ = ["CauseRef", "SnapshotDigest", "Thresholds", "derive_events", "legacy_known"]

_NO_DATA: Final = d.EventData(user_id="", report_id="")
DUPLICATES_KEY: Final = Cause(d.DUPLICATES, _NO_DATA).key


class CauseRef(BaseModel):
    """An open cause as stored in the digest: what `risk.cleared` needs to name it."""

    model_config = ConfigDict(frozen=True)

    reason: str
    document_id: str | None = None
    selfie_id: str | None = None
    field: str | None = None
    check: str | None = None
    flagged_event_id: str | None = None


class SnapshotDigest(BaseModel):
    """What derivation needs of a stored snapshot; JSON-storable (users.digest).

    Fields after `risks` were added with per-cause risks; None means a digest stored before.
    """

    model_config = ConfigDict(frozen=True)

    content_hash: str
    sequence: int = 1  # how many snapshots of the user so far: ids of A->B->A->B differ
    report_id: str
    state: str | None
    results: dict[str, str | None]
    document_ids: tuple[str, ...]
    selfie_ids: tuple[str, ...]
    risks: tuple[str, ...]  # keys of the open causes
    causes: dict[str, CauseRef] | None = None
    duplicate_ids: tuple[str, ...] | None = None
    voided_ids: tuple[str, ...] | None = None  # voided documents and selfies
    nfc_verified_ids: tuple[str, ...] | None = None
    trusted_document_ids: tuple[str, ...] | None = None


def legacy_known(keys: Iterable[str]) -> tuple[set[str], set[str]]:
    """The cause keys and whole reasons that a digest stored before per-cause risks covered.

    Its keys were `liveness_below_threshold`, `face_matching_below_threshold` (one per user:
    every cause of that reason is covered), `duplicates_found` and
    `check_failed:<scope>:<owner>:<side>:<field>:<check>` (mapped to the cause it is now).
    """
    known: set[str] = set()
    reasons: set[str] = set()
    for key in keys:
        if key in (d.LIVENESS, d.FACE_MATCHING, d.DUPLICATES):
            reasons.add(key)
            continue
        parts = key.split(":")
        if len(parts) != 6 or parts[0] != d.CHECK_FAILED:
            continue
        scope, owner, check = parts[1], parts[2] or None, parts[5]
        if scope == "selfie" and check == "liveness":
            known.add(Cause(d.LIVENESS, _NO_DATA, selfie_id=owner).key)
        elif scope == "document" and check == "face_matching":
            reasons.add(d.FACE_MATCHING)
        elif scope == "document" and check == "unexpired_document":
            known.add(Cause(d.EXPIRED, _NO_DATA, owner).key)
        else:
            document_id = owner if scope == "document" else None
            selfie_id = owner if scope == "selfie" else None
            known.add(Cause(d.CHECK_FAILED, _NO_DATA, document_id, selfie_id, None, check).key)
    return known, reasons


def _report_day(report: Report, observed_at: datetime) -> date:
    return (report.created_at or observed_at).date()


def _ids(values: Iterable[str | None]) -> tuple[str, ...]:
    return tuple(v for v in values if v)


def derive_events(  # noqa: PLR0912, PLR0915 - one pass over the report's facts, in event order
    previous: SnapshotDigest | None,
    current: Report,
    *,
    content_hash: str,
    observed_at: datetime,
    thresholds: Thresholds,
) -> tuple[list[DerivedEvent], SnapshotDigest]:
    """The events that lead from `previous` to `current`, and the digest of `current`.

    First snapshot: the state (from null), every document, selfie, voided one, verified chip,
    trusted document and open risk. Later: what changed; a cause is flagged when it appears
    (duplicates: whenever new ones appear), cleared when it is gone. A report identical to the
    previous one derives nothing.
    """
    if previous is not None and previous.content_hash == content_hash:
        return [], previous
    sequence = previous.sequence + 1 if previous else 1
    transition = f"{sequence}:{previous.content_hash if previous else '-'}>{content_hash}"
    user_id, report_id = current.user_id, current.id
    ids = {"user_id": user_id, "report_id": report_id}
    events: list[DerivedEvent] = []

    def emit(event_type: str, what: str, data: d.EventData) -> str:
        event = derived_event(event_type, data, change=f"{transition}|{what}", time=observed_at)
        events.append(event)
        return event.id

    legacy = previous is not None and previous.causes is None

    def known(stored: tuple[str, ...] | None, now: tuple[str, ...]) -> set[str]:
        # A fact a legacy digest did not record is taken as already announced (no burst).
        if previous is None:
            return set()
        return set(now if stored is None else stored)

    # --- State and results -------------------------------------------------------------------
    state, results = current.user_state, current.results
    before_state = previous.state if previous else None
    if state is not None and (previous is None or before_state != state):
        emit(
            STATE_CHANGED,
            "state",
            d.StateChanged(from_=before_state, to=state, results=results, **ids),
        )
    if previous is not None:
        for dimension, value in results.items():
            before = previous.results.get(dimension)
            if before != value:
                emit(
                    RESULT_CHANGED,
                    dimension,
                    d.ResultChanged(dimension=dimension, from_=before, to=value, **ids),
                )

    # --- Documents, selfies, trusted documents -----------------------------------------------
    documents = [(doc.id, doc) for doc in current.documents if doc.id]
    selfies = [(selfie.id, selfie) for selfie in current.selfies if selfie.id]
    voided_now = tuple(i for i, doc in documents if doc.meta is not None and doc.meta.voided)
    voided_now += tuple(i for i, selfie in selfies if selfie.voided)
    nfc_scores = {
        document_id: check.value
        for document_id, doc in documents
        for check in doc.checks
        if check.key == NFC_CHECK and check.value is not None and check.value >= thresholds.check
    }
    trusted = [otd for otd in current.other_trusted_documents if otd.id]
    known_documents = set(previous.document_ids if previous else ())
    known_voided = known(previous.voided_ids if previous else None, voided_now)
    known_nfc = known(previous.nfc_verified_ids if previous else None, _ids(nfc_scores))
    for document_id, doc in documents:
        doc_type = doc.meta.type if doc.meta else None
        if document_id not in known_documents:
            country = doc.meta.issuing_country if doc.meta else None
            added = d.DocumentAdded(
                document_id=document_id, type=doc_type, issuing_country=country, **ids
            )
            emit(DOCUMENT_ADDED, document_id, added)
        if document_id in voided_now and document_id not in known_voided:
            emit(
                DOCUMENT_VOIDED,
                document_id,
                d.DocumentVoided(document_id=document_id, type=doc_type, **ids),
            )
        if document_id in nfc_scores and document_id not in known_nfc:
            verified = d.DocumentNfcVerified(
                document_id=document_id,
                type=doc_type,
                score=nfc_scores[document_id],
                threshold=thresholds.check,
                **ids,
            )
            emit(DOCUMENT_NFC_VERIFIED, document_id, verified)
    known_selfies = set(previous.selfie_ids if previous else ())
    for selfie_id, _ in selfies:
        if selfie_id not in known_selfies:
            emit(SELFIE_ADDED, selfie_id, d.SelfieAdded(selfie_id=selfie_id, **ids))
        if selfie_id in voided_now and selfie_id not in known_voided:
            emit(SELFIE_VOIDED, selfie_id, d.SelfieVoided(selfie_id=selfie_id, **ids))
    trusted_now = _ids(otd.id for otd in trusted)
    known_trusted = known(previous.trusted_document_ids if previous else None, trusted_now)
    for otd in trusted:
        if otd.id and otd.id not in known_trusted:
            category = otd.meta.category if otd.meta else None
            added_otd = d.TrustedDocumentAdded(trusted_document_id=otd.id, category=category, **ids)
            emit(TRUSTED_DOCUMENT_ADDED, otd.id, added_otd)

    # --- Risks -------------------------------------------------------------------------------
    causes = open_causes(current, thresholds, _report_day(current, observed_at))
    opened: dict[str, CauseRef] = dict(previous.causes or {}) if previous else {}
    known_keys, known_reasons = (
        legacy_known(previous.risks) if legacy and previous else (set(), set())
    )
    refs: dict[str, CauseRef] = {}
    for key in sorted(causes):
        cause = causes[key]
        flagged_id = opened[key].flagged_event_id if key in opened else None
        if key not in opened and key not in known_keys and cause.reason not in known_reasons:
            flagged_id = emit(RISK_FLAGGED, key, cause.flagged)
        refs[key] = CauseRef(
            reason=cause.reason,
            document_id=cause.document_id,
            selfie_id=cause.selfie_id,
            field=cause.field,
            check=cause.check,
            flagged_event_id=flagged_id,
        )
    duplicates = duplicate_ids(current)
    if duplicates:
        if previous is None or not legacy:
            seen = set(previous.duplicate_ids or ()) if previous else set()
        else:  # legacy: the duplicates it flagged are the current ones, if it flagged any
            seen = set(duplicates) if d.DUPLICATES in known_reasons else set()
        new_ids = sorted(set(duplicates) - seen)
        flagged_id = opened[DUPLICATES_KEY].flagged_event_id if DUPLICATES_KEY in opened else None
        if new_ids:
            risk = d.DuplicatesRisk(
                reason=d.DUPLICATES, count=len(duplicates), new_ids=new_ids, **ids
            )
            flagged_id = emit(RISK_FLAGGED, f"{DUPLICATES_KEY}{','.join(new_ids)}", risk)
        refs[DUPLICATES_KEY] = CauseRef(reason=d.DUPLICATES, flagged_event_id=flagged_id)
    for key in sorted(set(opened) - set(refs)):
        ref = opened[key]
        cleared = d.RiskCleared(
            reason=ref.reason,
            flagged_event_id=ref.flagged_event_id,
            document_id=ref.document_id,
            selfie_id=ref.selfie_id,
            field=ref.field,
            check=ref.check,
            **ids,
        )
        emit(RISK_CLEARED, key, cleared)
    digest = SnapshotDigest(
        content_hash=content_hash,
        sequence=sequence,
        report_id=report_id,
        state=state,
        results=results,
        document_ids=tuple(i for i, _ in documents),
        selfie_ids=tuple(i for i, _ in selfies),
        risks=tuple(sorted(refs)),
        causes=refs,
        duplicate_ids=duplicates,
        voided_ids=voided_now,
        nfc_verified_ids=_ids(nfc_scores),
        trusted_document_ids=trusted_now,
    )
    return events, digest
