"""What the user captured: selfies, documents (with their sides), other trusted documents, events.

Ids of these objects are kept as plain text: only the report's own ids are checked strictly,
as a malformed selfie id must not fail an otherwise usable report.

Read against Alice's SDK (alice-onboarding 5.1.2, `models/report/`): every value its models
accept is accepted here. Keys the SDK does not declare (`selfies[].result`, `events[].version`)
are read when they have the expected shape and as None otherwise, since the SDK ignores them.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from service.report.base import (
    AliceModel,
    NullableDict,
    NullableList,
    Otherwise,
    Score,
    Timestamp,
)
from service.report.common import Check, Device, DocumentField, Href

EventVersion = Annotated[int, Field(ge=-(2**31), le=2**31 - 1)]


class Selfie(AliceModel):
    """One selfie: liveness score, selfie-level checks and media (video, preview, face crop)."""

    id: str | None = None
    created_at: Timestamp | None = None
    checks: NullableList[Check] = Field(default_factory=list)
    liveness: Score | None = None
    media: NullableDict[Href] = Field(default_factory=dict)
    number_of_faces: int | None = None
    result: Annotated[str | None, Otherwise(lambda: None)] = None
    voided: bool | None = None


class DocumentMeta(AliceModel):
    """A document's type (open set), issuing country (ISO 3166-1 alpha-3) and status."""

    type: str | None = None
    issuing_country: str | None = None
    completed: bool | None = None
    voided: bool | None = None


class DocumentSideMeta(AliceModel):
    """How one side was captured: manual mode, and the template used to read it."""

    manual: bool | None = None
    template: str | None = None


class DocumentSide(AliceModel):
    """One side of a document (`front`, `back`, `internal` = NFC chip): fields and media."""

    side: str | None = None
    fields: NullableList[DocumentField] = Field(default_factory=list)
    # The SDK types this map `Dict[str, Optional[Href]]`: a medium may be null (not kept).
    media: NullableDict[Href | None] = Field(default_factory=dict)
    meta: DocumentSideMeta | None = None
    created_at: Timestamp | None = None
    # Per-detector forensic scores; their keys and shapes are not published (SDK: Dict[str, Any]).
    forensics_scores: dict[str, Any] | None = None


class DocumentSides(AliceModel):
    """The sides of a document; a side not captured is null."""

    front: DocumentSide | None = None
    back: DocumentSide | None = None
    internal: DocumentSide | None = None

    def present(self) -> list[DocumentSide]:
        """The captured sides, front, back then internal."""
        return [side for side in (self.front, self.back, self.internal) if side is not None]


class Document(AliceModel):
    """One identity document: document-level checks, best-read fields and its sides."""

    id: str | None = None
    created_at: Timestamp | None = None
    checks: NullableList[Check] = Field(default_factory=list)
    meta: DocumentMeta | None = None
    sides: DocumentSides | None = None
    summary_fields: NullableList[DocumentField] = Field(default_factory=list)


class OTDMeta(AliceModel):
    """An other trusted document's category (e.g. proof of residence) and status."""

    category: str | None = None
    voided: bool | None = None


class OTD(AliceModel):
    """An other trusted document (invoice, payroll, proof of address...), usually one PDF."""

    id: str | None = None
    created_at: Timestamp | None = None
    # The SDK types this map `Dict[str, Optional[Href]]`: e.g. `{"pdf": null}`.
    media: NullableDict[Href | None] = Field(default_factory=dict)
    meta: OTDMeta | None = None


class UserEvent(AliceModel):
    """Something the user did, e.g. `document_side_added`; the type is an open set."""

    id: str | None = None
    type: str | None = None
    occurred_on: Timestamp | None = None
    # Not in the SDK's model; stored in an INTEGER column, so only a 32-bit integer is kept.
    version: Annotated[EventVersion | None, Otherwise(lambda: None)] = None
    # Attributes differ per event type and are not published: kept as JSON.
    attributes: NullableDict[Any] = Field(default_factory=dict)
    device: Device | None = None
