"""The report's summary: results, scores, user-level checks, best-read user data and state."""

from __future__ import annotations

from pydantic import Field, field_validator

from service.report.base import AliceModel, NullableList, Score, Timestamp
from service.report.common import Check, Device, DocumentField
from service.report.constants import USER_STATE_ALIASES


class Result(AliceModel):
    """The high-level outcome per dimension: `ok`, `ko` or `n/a` (an open set)."""

    selfie_security: str | None = None
    document_security: str | None = None
    document_read: str | None = None
    process_security: str | None = None


class UserState(AliceModel):
    """The user's state, e.g. `TO_REVIEW`; the `INPROGRESS` alias reads as `IN_PROGRESS`."""

    value: str | None = None

    @field_validator("value")
    @classmethod
    def _normalise_alias(cls, value: str | None) -> str | None:
        if value is None:
            return None
        return USER_STATE_ALIASES.get(value, value)


class ExternalUserData(AliceModel):
    """The data given to Alice when the user was created."""

    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None


class FaceMatchingMeta(AliceModel):
    """Which selfie was compared with which document side, and when."""

    created_at: Timestamp | None = None
    document_id: str | None = None
    selfie_id: str | None = None
    side: str | None = None


class FaceMatching(AliceModel):
    """Whether a document's face and a selfie are the same person: score 0-100 or null."""

    score: Score | None = None
    meta: FaceMatchingMeta | None = None


class Summary(AliceModel):
    """The summary of the whole onboarding process."""

    result: Result | None = None
    face_liveness: Score | None = None
    face_matching: NullableList[FaceMatching] = Field(default_factory=list)
    checks: NullableList[Check] = Field(default_factory=list)
    user_data: NullableList[DocumentField] = Field(default_factory=list)
    external_user_data: ExternalUserData | None = None
    sessions: int | None = None
    sessions_until_first_succeeded_onboarding: int | None = None
    devices: NullableList[Device] = Field(default_factory=list)
    state: UserState | None = None
