"""A faithful local copy of the constraints of Alice's SDK report models, for tests.

Written by reading `alice-biometrics/onboarding-python` 5.1.2, `alice/onboarding/models/report/`
(not by importing the SDK, which is not a dependency): same names, types, defaults, bounds and
closed enums, read with pydantic v2 as the SDK is under pydantic 2. Unknown keys are ignored, as
in the SDK. Quirks kept on purpose, since they are what the SDK accepts:
- `Optional[X]` without a default is required (may be null, may not be absent): a field's
  `value` and `score`, a selfie's `liveness` and `number_of_faces`, an event's `attributes` and
  `device`, and a media entry's `objects` (the SDK writes `Field(defualt=None)`, a typo).
- Media maps of document sides and other trusted documents allow null entries; selfies' do not.
- Face matching scores are required numbers: never null.

Used to prove that the emulator's default reports are ones the SDK accepts, and to build
reports of every shape the SDK accepts for the model's property test.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

from pydantic import BaseModel, Field


class DocumentType(Enum):
    """`document/document_type.py`."""

    ID_CARD = "idcard"
    DRIVER_LICENSE = "driverlicense"
    RESIDENCE_PERMIT = "residencepermit"
    PASSPORT = "passport"
    HEALTH_INSURANCE_CARD = "healthinsurancecard"


class DocumentSide(Enum):
    """`document/document_side.py`."""

    FRONT = "front"
    BACK = "back"
    INTERNAL = "internal"


class EntityResult(Enum):
    """`shared/entity_result.py`."""

    OK = "ok"
    KO = "ko"
    NA = "n/a"


class UserState(Enum):
    """`enums/user_state.py`."""

    NOT_STARTED = "NOT_STARTED"
    IN_PROGRESS = "IN_PROGRESS"
    TO_REVIEW = "TO_REVIEW"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"


class Check(BaseModel):
    """`checks/check.py`."""

    key: str
    value: float | None = Field(None, ge=0, le=100)
    detail: str | None = None


class BoundingBox(BaseModel):
    """`shared/bounding_box.py`."""

    x: int
    y: int
    width: int
    height: int


class Href(BaseModel):
    """`shared/href.py` (`objects` is required: its default is misspelt in the SDK)."""

    href: str
    extension: str | None = None
    objects: dict[str, BoundingBox] | None


class DeviceOut(BaseModel):
    """`compliance/device_out.py`."""

    agent: str
    agent_version: str
    platform: str
    platform_version: str
    model: str
    ip: str | None = None


class DomainEvent(BaseModel):
    """`compliance/domain_event.py`."""

    type: str
    id: UUID
    occurred_on: datetime
    attributes: dict[str, Any] | None
    device: DeviceOut | None


class ReportV1Field(BaseModel):
    """`document/document_field.py`."""

    name: str
    value: str | None
    score: int | None
    checks: list[Check] = Field(default=[])


class DocumentSideReportMeta(BaseModel):
    """`document/document_side_report_meta.py`."""

    template: str | None = None
    manual: bool | None = None


class DocumentSideReport(BaseModel):
    """`document/document_side_report.py`."""

    side: DocumentSide
    fields: list[ReportV1Field] = Field(default=[])
    media: dict[str, Href | None]
    meta: DocumentSideReportMeta
    created_at: datetime | None = None
    forensics_scores: dict[str, Any] | None = None


class DocumentSidesDetailReport(BaseModel):
    """`document/document_report.py`."""

    front: DocumentSideReport | None = None
    back: DocumentSideReport | None = None
    internal: DocumentSideReport | None = None


class DocumentReportMeta(BaseModel):
    """`document/document_report_meta.py`."""

    type: DocumentType
    issuing_country: str
    completed: bool
    voided: bool


class DocumentReport(BaseModel):
    """`document/document_report.py`."""

    id: str = Field(min_length=16, max_length=36)
    created_at: datetime
    checks: list[Check] = Field(default=[])
    summary_fields: list[ReportV1Field] = Field(default=[])
    sides: DocumentSidesDetailReport = DocumentSidesDetailReport()
    meta: DocumentReportMeta


class SelfieReport(BaseModel):
    """`selfie/selfie_report.py`."""

    id: str = Field(min_length=16, max_length=36)
    created_at: datetime
    checks: list[Check] = Field(default=[])
    liveness: float | None = Field(..., ge=0, le=100)
    voided: bool
    media: dict[str, Href]
    number_of_faces: int | None


class OtherTrustedDocumentReportMeta(BaseModel):
    """`other_trusted_document/other_trusted_document_report_meta.py`."""

    voided: bool
    category: str | None = None


class OtherTrustedDocumentReport(BaseModel):
    """`other_trusted_document/other_trusted_document_report.py`."""

    id: str = Field(min_length=16, max_length=36)
    created_at: datetime
    media: dict[str, Href | None]
    meta: OtherTrustedDocumentReportMeta


class FaceMatchingMeta(BaseModel):
    """`face_matching/face_matching.py`."""

    document_id: str = Field(min_length=16, max_length=36)
    selfie_id: str = Field(min_length=16, max_length=42)
    created_at: datetime
    side: DocumentSide


class FaceMatching(BaseModel):
    """`face_matching/face_matching.py`."""

    score: float = Field(..., ge=0, le=100)
    meta: FaceMatchingMeta


class ExternalUserData(BaseModel):
    """`summary/external_user_data.py`."""

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None


class ReportUserState(BaseModel):
    """`summary/report_user_state.py`."""

    value: UserState | None = None


class UserResult(BaseModel):
    """`summary/report_summary.py`."""

    selfie_security: EntityResult = Field(default=EntityResult.NA)
    document_security: EntityResult = Field(default=EntityResult.NA)
    document_read: EntityResult = Field(default=EntityResult.NA)
    process_security: EntityResult = Field(default=EntityResult.NA)


class ReportSummary(BaseModel):
    """`summary/report_summary.py`."""

    result: UserResult = Field(default=UserResult())
    face_liveness: float | None = Field(default=None, ge=0, le=100)
    face_matching: list[FaceMatching] = Field(default=[])
    checks: list[Check] = Field(default=[])
    user_data: list[ReportV1Field] | None = Field(default=[])
    external_user_data: ExternalUserData | None = None
    sessions: int = Field(default=0)
    sessions_until_first_succeeded_onboarding: int | None = Field(default=None)
    devices: list[DeviceOut] = Field(default=[])
    state: ReportUserState | None = None


class Report(BaseModel):
    """`report.py`."""

    id: str = Field(min_length=16, max_length=36)
    user_id: str = Field(min_length=16, max_length=36)
    version: int = Field(default=1)
    created_at: datetime
    summary: ReportSummary
    selfies: list[SelfieReport]
    documents: list[DocumentReport]
    other_trusted_documents: list[OtherTrustedDocumentReport] = Field(default=[])
    events: list[DomainEvent]
