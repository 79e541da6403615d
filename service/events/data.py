"""The data of each derived event type: one exact pydantic model per type (extra keys forbidden).

A payload carries ids, types, dates and scores only: never names, document numbers, media links
or addresses. Every field is always present (null where the docstring says it may be), so the
JSON Schema of a type lists all of its keys as required. `risk.flagged` is a union discriminated
by `reason`: one model per reason, each exact.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field


class EventData(BaseModel):
    """What every derived event's data carries: the user and the report it was derived from."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    user_id: str = Field(description="The Alice user id (also ce_subject and the record key).")
    report_id: str = Field(description="The report the change was derived from.")


class StateChanged(EventData):
    """`onboarding.user.state_changed`: the user's state moved (from null the first time)."""

    from_: str | None = Field(alias="from", description="Previous state; null the first time.")
    to: str = Field(description="New state, e.g. TO_REVIEW, ACCEPTED, REJECTED.")
    results: dict[str, str | None] = Field(
        description="The four summary result dimensions (ok, ko, n/a or another value)."
    )


class ResultChanged(EventData):
    """`onboarding.result.changed`: one summary result dimension changed value."""

    dimension: str = Field(description="selfie_security, document_security, document_read or ...")
    from_: str | None = Field(alias="from", description="Previous value.")
    to: str | None = Field(description="New value.")


class DocumentAdded(EventData):
    """`onboarding.document.added`: an identity document appeared in the report."""

    document_id: str = Field(description="The document.")
    type: str | None = Field(description="Document type (idcard, passport, ...; an open set).")
    issuing_country: str | None = Field(description="ISO 3166-1 alpha-3.")


class DocumentVoided(EventData):
    """`onboarding.document.voided`: a document is marked voided (`meta.voided`)."""

    document_id: str = Field(description="The voided document.")
    type: str | None = Field(description="Document type.")


class DocumentNfcVerified(EventData):
    """`onboarding.document.nfc_verified`: the chip check `authentic_nfc_chip` passed."""

    document_id: str = Field(description="The document whose chip was read and verified.")
    type: str | None = Field(description="Document type.")
    score: float = Field(description="The authentic_nfc_chip score (0-100).")
    threshold: float = Field(description="The pass threshold it met (CHECK_THRESHOLD).")


class SelfieAdded(EventData):
    """`onboarding.selfie.added`: a selfie appeared in the report."""

    selfie_id: str = Field(description="The selfie.")


class SelfieVoided(EventData):
    """`onboarding.selfie.voided`: a selfie is marked voided."""

    selfie_id: str = Field(description="The voided selfie.")


class TrustedDocumentAdded(EventData):
    """`onboarding.trusted_document.added`: an other trusted document (proof of address, ...)."""

    trusted_document_id: str = Field(description="The other trusted document.")
    category: str | None = Field(description="Its category (an open set).")


# --- Risks --------------------------------------------------------------------------------------
class _Scored(EventData):
    value: float = Field(description="The offending score (0-100).")
    threshold: float = Field(description="The configured threshold it is below.")


class LivenessRisk(_Scored):
    """A selfie's liveness is below LIVENESS_THRESHOLD."""

    reason: Literal["liveness_below_threshold"]
    selfie_id: str | None = Field(description="The selfie; null when only the summary has one.")


class FaceMatchingRisk(_Scored):
    """A document's face and a selfie do not match well enough."""

    reason: Literal["face_matching_below_threshold"]
    document_id: str | None = Field(description="The document compared.")
    selfie_id: str | None = Field(description="The selfie compared; null from a document check.")


class DuplicatesRisk(EventData):
    """Other users share this user's identity; flagged again when new duplicates appear."""

    reason: Literal["duplicates_found"]
    count: int = Field(description="How many duplicates the report lists now.")
    new_ids: list[str] = Field(description="Ids of the duplicates not listed by the last report.")


class CheckFailedRisk(_Scored):
    """A summary, selfie or document check with no more specific reason is below threshold."""

    reason: Literal["check_failed"]
    check: str = Field(description="The check key (an open set).")
    scope: Literal["summary", "selfie", "document"] = Field(description="Where the check is.")
    owner_id: str | None = Field(description="The selfie or document id; null for summary.")


class FieldCheckFailedRisk(_Scored):
    """A field check with no more specific reason (checked_field, valid_date_format, ...)."""

    reason: Literal["field_check_failed"]
    check: str = Field(description="The check key (an open set).")
    document_id: str | None = Field(description="The document; null for summary user data.")
    field: str = Field(description="The field's name, e.g. birth_date (never its value).")


class HolderUnderAgeRisk(_Scored):
    """The field check `over_18` failed."""

    reason: Literal["holder_under_age"]
    document_id: str | None = Field(description="The document; null for summary user data.")
    age: int | None = Field(
        description="Age in whole years at the report's date; null if no ISO birth date."
    )


class DocumentExpiredRisk(EventData):
    """The document has expired (`unexpired_document` or `unexpired_date` failed, or its expiry
    date is before the report's date)."""

    reason: Literal["document_expired"]
    document_id: str = Field(description="The expired document.")
    expiry_date: date | None = Field(description="Its expiry date; null if not readable.")
    value: float | None = Field(description="The failing check's score; null if by date alone.")
    threshold: float = Field(description="CHECK_THRESHOLD.")


class DocumentExpiresSoonRisk(EventData):
    """The document expires within DOCUMENT_EXPIRY_WARNING_DAYS of the report (re-KYC)."""

    reason: Literal["document_expires_soon"]
    document_id: str = Field(description="The document.")
    expiry_date: date = Field(description="Its expiry date.")
    days_left: int = Field(description="Days from the report's date to the expiry date.")
    window_days: int = Field(description="DOCUMENT_EXPIRY_WARNING_DAYS.")


class FieldInconsistentRisk(_Scored):
    """The field check `consistent_field` failed (sides or MRZ disagree on a field)."""

    reason: Literal["field_inconsistent"]
    document_id: str | None = Field(description="The document; null for summary user data.")
    field: str = Field(description="The field's name (never its value).")


class MrzNameIncompleteRisk(_Scored):
    """The field check `complete_mrz_name` failed (the MRZ truncates the holder's name)."""

    reason: Literal["mrz_name_incomplete"]
    document_id: str | None = Field(description="The document; null for summary user data.")
    field: str = Field(description="The field's name (never its value).")


RiskFlagged = Annotated[
    LivenessRisk
    | FaceMatchingRisk
    | DuplicatesRisk
    | CheckFailedRisk
    | FieldCheckFailedRisk
    | HolderUnderAgeRisk
    | DocumentExpiredRisk
    | DocumentExpiresSoonRisk
    | FieldInconsistentRisk
    | MrzNameIncompleteRisk,
    Field(discriminator="reason"),
]
RISK_MODELS: tuple[type[EventData], ...] = (
    LivenessRisk,
    FaceMatchingRisk,
    DuplicatesRisk,
    CheckFailedRisk,
    FieldCheckFailedRisk,
    HolderUnderAgeRisk,
    DocumentExpiredRisk,
    DocumentExpiresSoonRisk,
    FieldInconsistentRisk,
    MrzNameIncompleteRisk,
)
LIVENESS: Final = "liveness_below_threshold"
FACE_MATCHING: Final = "face_matching_below_threshold"
DUPLICATES: Final = "duplicates_found"
CHECK_FAILED: Final = "check_failed"
FIELD_CHECK_FAILED: Final = "field_check_failed"
UNDER_AGE: Final = "holder_under_age"
EXPIRED: Final = "document_expired"
EXPIRES_SOON: Final = "document_expires_soon"
FIELD_INCONSISTENT: Final = "field_inconsistent"
MRZ_NAME_INCOMPLETE: Final = "mrz_name_incomplete"
# In the order of RISK_MODELS (a test checks each model's `reason` literal against it).
RISK_REASONS: Final = (
    LIVENESS,
    FACE_MATCHING,
    DUPLICATES,
    CHECK_FAILED,
    FIELD_CHECK_FAILED,
    UNDER_AGE,
    EXPIRED,
    EXPIRES_SOON,
    FIELD_INCONSISTENT,
    MRZ_NAME_INCOMPLETE,
)


class RiskCleared(EventData):
    """`onboarding.risk.cleared`: a cause flagged earlier is gone from the latest report."""

    reason: str = Field(description="The reason of the cleared risk (see risk.flagged).")
    flagged_event_id: str | None = Field(
        description="ce_id of the risk.flagged event that opened it (null if flagged before "
        "the ingestor recorded it)."
    )
    document_id: str | None = Field(description="The cause's document, if keyed by one.")
    selfie_id: str | None = Field(description="The cause's selfie, if keyed by one.")
    field: str | None = Field(description="The cause's field name, if keyed by one.")
    check: str | None = Field(description="The cause's check key (check_failed reasons).")


class UserDeletedUpstream(EventData):
    """`onboarding.user.deleted_upstream`: Alice no longer knows the user (404 on both its state
    and its report, seen by the reconciler); published once, never dead-lettered."""

    report_id: str | None = Field(description="The last report stored for the user, if any.")  # type: ignore[assignment]
    last_state: str | None = Field(description="The last state seen before the deletion.")


class UserErased(BaseModel):
    """`onboarding.user.erased`: everything stored on the user was erased (GDPR Art. 17);
    downstream systems erase their copies too. Published once per erasure request."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    user_id: str = Field(description="The Alice user id (also ce_subject and the record key).")
    erased_at: datetime = Field(description="When the erasure was committed (RFC 3339).")
