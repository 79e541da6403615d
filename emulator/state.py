"""The emulator's users: their state, documents, score overrides, events, cached report bytes.

Each change bumps the user's `version` and drops the cached bytes; the next report is rendered
once and then served from the cache. A deleted (or "made unknown") user is remembered, so it
is not re-created on its next reference even when `auto_create` is on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from emulator.reports import (
    UNSET,
    DocumentSpec,
    EventSpec,
    ReportInputs,
    Score,
    Unset,
    default_documents,
    render_report,
    rng_for,
)
from emulator.variety import check_features, draw_features

USER_STATES: tuple[str, ...] = ("NOT_STARTED", "IN_PROGRESS", "TO_REVIEW", "ACCEPTED", "REJECTED")
INITIAL_STATE = "TO_REVIEW"


class UnknownUserError(KeyError):
    """The user does not exist (never created, or deleted)."""


@dataclass(slots=True)
class UserRecord:
    """One user as the emulator knows it."""

    inputs: ReportInputs
    version: int = 1
    report_bytes: bytes | None = field(default=None, repr=False)


def _check_score(value: Score | Unset) -> None:
    if isinstance(value, int | float) and not 0 <= value <= 100:
        raise ValueError(f"a score is 0-100 or null, not {value}")


class UserRegistry:
    """All users, keyed by user id."""

    def __init__(self, *, seed: int = 0, auto_create: bool = True, variety: float = 0.0) -> None:
        self.seed = seed
        self.auto_create = auto_create
        # Share of new users given one to three SDK features, chosen by seed and user id.
        self.variety = variety
        self._users: dict[str, UserRecord] = {}
        self._deleted: set[str] = set()

    def __len__(self) -> int:
        return len(self._users)

    def create(
        self, user_id: str, state: str = INITIAL_STATE, features: Iterable[str] | None = None
    ) -> UserRecord:
        """Create (or re-create after deletion) `user_id` with its default onboarding.

        `features` None: drawn by seed for a `variety` share of users, else none.
        """
        chosen = check_features(features or ())
        if features is None and self.variety > 0:
            rng = rng_for(self.seed, user_id, "variety")
            if rng.random() < self.variety:
                chosen = draw_features(rng)
        self._deleted.discard(user_id)
        documents = default_documents(self.seed, user_id)
        inputs = ReportInputs(
            user_id=user_id,
            seed=self.seed,
            state=state,
            documents=documents,
            onboarding_documents=len(documents),
            features=chosen,
        )
        record = self._users[user_id] = UserRecord(inputs)
        return record

    def find(self, user_id: str) -> UserRecord | None:
        """The user, creating it if `auto_create` allows; None if unknown."""
        record = self._users.get(user_id)
        if record is None and self.auto_create and user_id not in self._deleted:
            record = self.create(user_id)
        return record

    def get(self, user_id: str) -> UserRecord:
        """Like `find`, but raises `UnknownUserError`."""
        record = self.find(user_id)
        if record is None:
            raise UnknownUserError(user_id)
        return record

    def delete(self, user_id: str) -> None:
        """Forget the user: its report is then 404 until `create` is called again."""
        self._users.pop(user_id, None)
        self._deleted.add(user_id)

    def report_bytes(self, user_id: str) -> bytes:
        """The user's current `{"report": ...}` body, rendered once per version."""
        record = self.get(user_id)
        if record.report_bytes is None:
            record.report_bytes = render_report(record.inputs)
        return record.report_bytes

    def pregenerate(self, user_ids: Iterable[str]) -> int:
        """Create the users and render their reports now; returns how many."""
        count = 0
        for user_id in user_ids:
            if user_id not in self._users:
                self.create(user_id)
            self.report_bytes(user_id)
            count += 1
        return count

    def _change(self, user_id: str, **changes: Any) -> int:
        record = self.get(user_id)
        record.inputs = dataclasses.replace(record.inputs, **changes)
        record.version += 1
        record.report_bytes = None
        return record.version

    def set_state(self, user_id: str, state: str) -> int:
        """Set `summary.state.value`; any string is accepted (the state set is open)."""
        return self._change(user_id, state=state)

    def add_document(
        self, user_id: str, doc_type: str, issuing_country: str | None, *, expired: bool = False
    ) -> int:
        """Append a document uploaded after onboarding (`expired`: its expiry date has passed)."""
        spec = DocumentSpec(doc_type, issuing_country, expired)
        documents = (*self.get(user_id).inputs.documents, spec)
        return self._change(user_id, documents=documents)

    def set_scores(
        self, user_id: str, liveness: Score | Unset, face_matching: Score | Unset
    ) -> int:
        """Override the selfie liveness and/or every document's face matching score."""
        _check_score(liveness)
        _check_score(face_matching)
        inputs = self.get(user_id).inputs
        return self._change(
            user_id,
            liveness=inputs.liveness if liveness is UNSET else liveness,
            face_matching=inputs.face_matching if face_matching is UNSET else face_matching,
        )

    def add_event(self, user_id: str, event_type: str, attributes: Mapping[str, Any]) -> int:
        """Append an event of `event_type` (an open string)."""
        events = (*self.get(user_id).inputs.events, EventSpec(event_type, dict(attributes)))
        return self._change(user_id, events=events)

    def add_features(self, user_id: str, features: Iterable[str]) -> int:
        """Turn report features on (`emulator.variety.FEATURES`); unknown names: ValueError."""
        chosen = check_features(features)
        return self._change(user_id, features=self.get(user_id).inputs.features | chosen)
