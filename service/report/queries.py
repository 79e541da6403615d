"""Questions a consumer asks of a parsed report: failed checks, user data, document numbers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from service.report.captures import Document
from service.report.common import Check, DocumentField
from service.report.constants import (
    DOCUMENT_NUMBER_FIELDS,
    KNOWN_DOCUMENT_NUMBER_FIELDS,
    PASS_THRESHOLD,
)
from service.report.model import Report

SCOPE_SUMMARY = "summary"
SCOPE_SELFIE = "selfie"
SCOPE_DOCUMENT = "document"
SCOPE_USER_DATA = "user_data"
SCOPE_DOCUMENT_FIELD = "document_field"


@dataclass(frozen=True, slots=True)
class FailedCheck:
    """A check whose value is below the threshold, and where in the report it was found.

    `scope` is one of `summary`, `selfie`, `document` (and, for field checks, `user_data` or
    `document_field`); `owner_id` is the selfie or document id (None for summary scopes);
    `field` names the document field and `side` the document side (or None for summary
    fields) when the check belongs to a field.
    """

    scope: str
    owner_id: str | None
    key: str
    value: float
    field: str | None = None
    side: str | None = None


def _failing(checks: Iterable[Check], threshold: float) -> list[tuple[str, float]]:
    """(key, value) of each check below the threshold; null means "does not apply", never fails."""
    return [
        (check.key, check.value)
        for check in checks
        if check.value is not None and check.value < threshold
    ]


def _field_failures(
    fields: Iterable[DocumentField],
    threshold: float,
    *,
    scope: str,
    owner_id: str | None,
    side: str | None,
) -> list[FailedCheck]:
    return [
        FailedCheck(scope, owner_id, key, value, field.name, side)
        for field in fields
        for key, value in _failing(field.checks, threshold)
    ]


def failed_checks(
    report: Report, *, threshold: float = PASS_THRESHOLD, include_fields: bool = False
) -> list[FailedCheck]:
    """Every check below `threshold`: summary, then selfie, then document checks.

    With `include_fields`, also the checks of fields (summary user data, each document's
    summary fields and its sides' fields), which often repeat a document-level check.
    """
    failures: list[FailedCheck] = []
    if report.summary is not None:
        failures += [
            FailedCheck(SCOPE_SUMMARY, None, key, value)
            for key, value in _failing(report.summary.checks, threshold)
        ]
    for selfie in report.selfies:
        failures += [
            FailedCheck(SCOPE_SELFIE, selfie.id, key, value)
            for key, value in _failing(selfie.checks, threshold)
        ]
    for document in report.documents:
        failures += [
            FailedCheck(SCOPE_DOCUMENT, document.id, key, value)
            for key, value in _failing(document.checks, threshold)
        ]
    if not include_fields:
        return failures
    if report.summary is not None:
        failures += _field_failures(
            report.summary.user_data, threshold, scope=SCOPE_USER_DATA, owner_id=None, side=None
        )
    for document in report.documents:
        failures += _field_failures(
            document.summary_fields,
            threshold,
            scope=SCOPE_DOCUMENT_FIELD,
            owner_id=document.id,
            side=None,
        )
        for side in document.sides.present() if document.sides is not None else []:
            failures += _field_failures(
                side.fields,
                threshold,
                scope=SCOPE_DOCUMENT_FIELD,
                owner_id=document.id,
                side=side.side,
            )
    return failures


def _field_value(fields: Iterable[DocumentField], name: str) -> str | None:
    """The first non-empty value of the field called `name`."""
    for field in fields:
        if field.name == name and field.value:
            return field.value
    return None


def best_user_data(report: Report, name: str) -> str | None:
    """The best-read value of a user field across all documents (`summary.user_data`)."""
    if report.summary is None:
        return None
    return _field_value(report.summary.user_data, name)


def document_number(document: Document) -> str | None:
    """The document's number, whatever the field is called for its type.

    The type's own field name is tried first (summary fields, then each side's fields), then
    every known number field name: a passport also carries the holder's `id_number`, which
    must not win over its `passport_number`.
    """
    doc_type = document.meta.type if document.meta is not None else None
    preferred = DOCUMENT_NUMBER_FIELDS.get(doc_type) if doc_type is not None else None
    names = [preferred] if preferred is not None else []
    names += [name for name in KNOWN_DOCUMENT_NUMBER_FIELDS if name != preferred]
    sides = document.sides.present() if document.sides is not None else []
    for name in names:
        found = _field_value(document.summary_fields, name)
        for side in sides:
            if found is not None:
                break
            found = _field_value(side.fields, name)
        if found is not None:
            return found
    return None
