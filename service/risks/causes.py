"""Risk causes: the thresholds, a cause and its stable key, dates, and the collector of causes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from service.events import data as d
from service.report import DocumentField


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Scores below these flag a risk (Alice recommends 50); the expiry warning window in days."""

    liveness: float = 50.0
    face_matching: float = 50.0
    check: float = 50.0
    expiry_warning_days: int = 90


@dataclass(frozen=True, slots=True)
class Cause:
    """One open risk: its stable key's parts and the data of its `risk.flagged` event."""

    reason: str
    flagged: d.EventData
    document_id: str | None = None
    selfie_id: str | None = None
    field: str | None = None
    check: str | None = None

    @property
    def key(self) -> str:
        """reason|document|selfie|field|check: equal causes in two reports, equal keys."""
        parts = (self.document_id, self.selfie_id, self.field, self.check)
        return "|".join((self.reason, *(p or "" for p in parts)))


def iso_date(value: str | None) -> date | None:
    """A date read from a field value in ISO form (YYYY-MM-DD...), or None."""
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def age_on(birth: date, day: date) -> int:
    """Whole years from `birth` to `day`."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def first_date(fields: list[DocumentField], name: str) -> date | None:
    """The first ISO date among the fields called `name`."""
    for field in fields:
        if field.name == name and field.value:
            found = iso_date(field.value)
            if found is not None:
                return found
    return None


class Collector:
    """Gathers causes by key, keeping the lowest score when one cause is seen twice."""

    def __init__(self, ids: tuple[str, str]) -> None:
        self.user_id, self.report_id = ids
        self.causes: dict[str, Cause] = {}

    def add(self, cause: Cause, score: float | None = None) -> None:
        known = self.causes.get(cause.key)
        if known is None:
            self.causes[cause.key] = cause
            return
        kept = getattr(known.flagged, "value", None)
        if score is not None and (kept is None or score < kept):
            self.causes[cause.key] = cause

    def reasons(self) -> set[str]:
        return {c.reason for c in self.causes.values()}
