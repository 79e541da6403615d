"""The Alice report and the `{"report": {...}}` envelope the API wraps it in."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from service.report.base import AliceModel, NullableList, Otherwise, Timestamp, UuidStr
from service.report.captures import OTD, Document, Selfie, UserEvent
from service.report.constants import RESULT_DIMENSIONS
from service.report.summary import Summary


class Report(AliceModel):
    """Everything Alice extracted for one user during onboarding.

    `id` and `user_id` are required and canonical lowercase UUID strings; everything else is
    optional, as a report fetched while analysis is still running may lack parts of it.
    """

    id: UuidStr
    user_id: UuidStr
    version: int | None = None
    created_at: Timestamp | None = None
    summary: Summary | None = None
    selfies: NullableList[Selfie] = Field(default_factory=list)
    documents: NullableList[Document] = Field(default_factory=list)
    other_trusted_documents: NullableList[OTD] = Field(default_factory=list)
    events: NullableList[UserEvent] = Field(default_factory=list)
    # The item schema of duplicates is not published: each item is kept as received JSON. The
    # SDK does not declare the key (any value passes there): a value that is not a list reads
    # as empty, the raw body keeps it.
    duplicates: Annotated[NullableList[Any], Otherwise(list)] = Field(default_factory=list)

    @property
    def user_state(self) -> str | None:
        """The user's state (`IN_PROGRESS` for the `INPROGRESS` alias), or None if absent."""
        if self.summary is None or self.summary.state is None:
            return None
        return self.summary.state.value

    @property
    def results(self) -> dict[str, str | None]:
        """The four summary result dimensions, each `ok`/`ko`/`n/a`/another value or None."""
        result = self.summary.result if self.summary is not None else None
        if result is None:
            return dict.fromkeys(RESULT_DIMENSIONS)
        return {
            "selfie_security": result.selfie_security,
            "document_security": result.document_security,
            "document_read": result.document_read,
            "process_security": result.process_security,
        }


class ReportEnvelope(AliceModel):
    """The body of `GET /user/report`: `{"report": {...}}`. Only the envelope is accepted."""

    report: Report
