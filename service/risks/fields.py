"""Causes raised by field checks (over_18, unexpired_date, consistent_field, complete_mrz_name,
and any other field check), for a document's fields or the summary's user data."""

from __future__ import annotations

from datetime import date

from service.events import data as d
from service.report import DocumentField
from service.risks.causes import Cause, Collector, age_on, first_date

BIRTH_DATE = "birth_date"
EXPIRATION_DATE = "expiration_date"
FIELD_REASONS = {
    "over_18": d.UNDER_AGE,
    "unexpired_date": d.EXPIRED,
    "consistent_field": d.FIELD_INCONSISTENT,
    "complete_mrz_name": d.MRZ_NAME_INCOMPLETE,
}


def field_causes(
    out: Collector,
    fields: list[DocumentField],
    document_id: str | None,
    day: date,
    threshold: float,
) -> None:
    """Add the causes of the failing field checks among `fields` (one document's, or the
    summary's user data when `document_id` is None)."""
    failing = [
        (field, check)
        for field in fields
        for check in field.checks
        if check.value is not None and check.value < threshold
    ]
    if not failing:  # the usual case: no date parsed, nothing built
        return
    ids = {"user_id": out.user_id, "report_id": out.report_id}
    birth, expiry = first_date(fields, BIRTH_DATE), first_date(fields, EXPIRATION_DATE)
    for field, check in failing:
        if check.value is not None:  # for the type checker: filtered above
            score = {"value": check.value, "threshold": threshold}
            reason = FIELD_REASONS.get(check.key, d.FIELD_CHECK_FAILED)
            if reason == d.UNDER_AGE:
                age = age_on(birth, day) if birth else None
                flagged: d.EventData = d.HolderUnderAgeRisk(
                    reason=reason, document_id=document_id, age=age, **ids, **score
                )
                out.add(Cause(reason, flagged, document_id), check.value)
            elif reason == d.EXPIRED and document_id is not None:
                flagged = d.DocumentExpiredRisk(
                    reason=reason, document_id=document_id, expiry_date=expiry, **ids, **score
                )
                out.add(Cause(reason, flagged, document_id), check.value)
            elif reason in (d.FIELD_INCONSISTENT, d.MRZ_NAME_INCOMPLETE):
                model = (
                    d.FieldInconsistentRisk
                    if reason == d.FIELD_INCONSISTENT
                    else d.MrzNameIncompleteRisk
                )
                flagged = model(
                    reason=reason, document_id=document_id, field=field.name, **ids, **score
                )
                out.add(Cause(reason, flagged, document_id, field=field.name), check.value)
            else:
                flagged = d.FieldCheckFailedRisk(
                    reason=d.FIELD_CHECK_FAILED,
                    check=check.key,
                    document_id=document_id,
                    field=field.name,
                    **ids,
                    **score,
                )
                cause = Cause(
                    d.FIELD_CHECK_FAILED, flagged, document_id, None, field.name, check.key
                )
                out.add(cause, check.value)
