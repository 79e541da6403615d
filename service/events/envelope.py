"""The derived event envelope: CloudEvents types, their data models and schemas, deterministic ids.

Pure: standard library and pydantic only (the Kafka binding is in `service.events.kafka`).

Contract evolution (the README's rule): within a type, changes are additive only - a new key
in the data, a new `risk.flagged` reason - and consumers ignore keys and reasons they do not know.
A breaking change (a key removed, renamed or retyped, a meaning changed) is a new type version
`<type>.v2` with its own schema, published beside the old type for a migration period.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Final

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from service.events.data import (
    DocumentAdded,
    DocumentNfcVerified,
    DocumentVoided,
    EventData,
    ResultChanged,
    RiskCleared,
    RiskFlagged,
    SelfieAdded,
    SelfieVoided,
    StateChanged,
    TrustedDocumentAdded,
    UserDeletedUpstream,
    UserErased,
)

CE_SPECVERSION: Final = "1.0"
CE_SOURCE: Final = "urn:alice-report-ingestor"
CONTENT_TYPE_JSON: Final = "application/json"
# Namespace of the deterministic ids: uuid5(namespace, what identifies the change).
ID_NAMESPACE: Final = uuid.UUID("6b0c3a86-38b7-4c0f-9bd4-5d6a2f1c9e71")
SCHEMA_URN: Final = "urn:alice-report-ingestor:schema"

STATE_CHANGED: Final = "onboarding.user.state_changed"
RESULT_CHANGED: Final = "onboarding.result.changed"
DOCUMENT_ADDED: Final = "onboarding.document.added"
DOCUMENT_VOIDED: Final = "onboarding.document.voided"
DOCUMENT_NFC_VERIFIED: Final = "onboarding.document.nfc_verified"
SELFIE_ADDED: Final = "onboarding.selfie.added"
SELFIE_VOIDED: Final = "onboarding.selfie.voided"
TRUSTED_DOCUMENT_ADDED: Final = "onboarding.trusted_document.added"
RISK_FLAGGED: Final = "onboarding.risk.flagged"
RISK_CLEARED: Final = "onboarding.risk.cleared"
USER_DELETED_UPSTREAM: Final = "onboarding.user.deleted_upstream"
USER_ERASED: Final = "onboarding.user.erased"

# Each type's data: a model, or (risk.flagged) a union discriminated by `reason`.
DATA_SCHEMAS: Final[dict[str, Any]] = {
    STATE_CHANGED: StateChanged,
    RESULT_CHANGED: ResultChanged,
    DOCUMENT_ADDED: DocumentAdded,
    DOCUMENT_VOIDED: DocumentVoided,
    DOCUMENT_NFC_VERIFIED: DocumentNfcVerified,
    SELFIE_ADDED: SelfieAdded,
    SELFIE_VOIDED: SelfieVoided,
    TRUSTED_DOCUMENT_ADDED: TrustedDocumentAdded,
    RISK_FLAGGED: RiskFlagged,
    RISK_CLEARED: RiskCleared,
    USER_DELETED_UPSTREAM: UserDeletedUpstream,
    USER_ERASED: UserErased,
}
DERIVED_TYPES: Final = tuple(DATA_SCHEMAS)
# Any derived event's data (which one: `ce_type`), for the AsyncAPI document's output payload.
DerivedEventData = (
    StateChanged
    | ResultChanged
    | DocumentAdded
    | DocumentVoided
    | DocumentNfcVerified
    | SelfieAdded
    | SelfieVoided
    | TrustedDocumentAdded
    | RiskFlagged
    | RiskCleared
    | UserDeletedUpstream
    | UserErased
)
DATA_VERSION: Final = 1  # every type is at v1; a breaking change adds `<type>.v2`
_ADAPTERS: Final = {event_type: TypeAdapter(model) for event_type, model in DATA_SCHEMAS.items()}


def dataschema(event_type: str) -> str:
    """The URI naming the JSON Schema of a type's data (docs/schemas/<type>.v1.json's $id)."""
    return f"{SCHEMA_URN}:{event_type}:v{DATA_VERSION}"


def data_adapter(event_type: str) -> TypeAdapter[Any]:
    """The validator of a type's data (KeyError for a type that is not derived)."""
    return _ADAPTERS[event_type]


class DerivedEvent(BaseModel):
    """One state change derived from two snapshots, published as a CloudEvent."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Deterministic CloudEvents id (uuid5 of the change).")
    type: str = Field(description="CloudEvents type, e.g. onboarding.user.state_changed.")
    user_id: str = Field(description="The Alice user id; also ce_subject and the record key.")
    time: AwareDatetime = Field(description="When the change was observed.")
    data: dict[str, Any] = Field(description="The JSON data, exactly its type's data model.")

    @property
    def dataschema(self) -> str:
        """The `dataschema` attribute: the URI of this type's data schema."""
        return dataschema(self.type)


def derived_event_id(user_id: str, event_type: str, change: str) -> str:
    """The deterministic id of a change: same user, type and change text, same id."""
    return str(uuid.uuid5(ID_NAMESPACE, f"{user_id}|{event_type}|{change}"))


def derived_event(event_type: str, data: EventData, *, change: str, time: datetime) -> DerivedEvent:
    """A derived event of `data` (whose model must be its type's), with its deterministic id.

    `data` was validated when its model was built, and the other fields are ours: the envelope
    is constructed without validating them again (half the cost of a derived event).
    """
    return DerivedEvent.model_construct(
        id=derived_event_id(data.user_id, event_type, change),
        type=event_type,
        user_id=data.user_id,
        time=time,
        data=data.model_dump(mode="json", by_alias=True),
    )
