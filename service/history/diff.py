"""The field-level difference between two snapshots of a user's report. Pure.

Works on the report object as stored (`report_snapshots.report`, the JSON Alice sent), not on
the parsed model: a history must show old snapshots too, whatever the model accepts today, and
a missing or oddly typed part reads as absent instead of failing the whole timeline.

What is compared: the user's state; the four summary results; scores (face liveness, each
face-matching pair, each selfie's liveness); documents and selfies added, voided or gone;
checks whose value changed (the summary's, each document's, each selfie's); user data fields
(`summary.user_data`, `summary.external_user_data`) whose value changed; devices added. Values
are kept as they are: masking is the caller's (`service.history.masking`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RESULTS = ("selfie_security", "document_security", "document_read", "process_security")


@dataclass(frozen=True, slots=True)
class Change:
    """One value that changed: what it is, before (None: absent) and after."""

    name: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class Capture:
    """A document or selfie that appeared, was voided or is gone."""

    id: str
    type: str | None = None
    issuing_country: str | None = None


@dataclass(frozen=True, slots=True)
class CheckChange:
    """A check whose value changed: where (`summary`, `document:<id>`, `selfie:<id>`), which."""

    where: str
    key: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class Device:
    """A device the user onboarded from (the IP is personal)."""

    platform: str | None
    model: str | None
    ip: str | None


@dataclass(frozen=True, slots=True)
class SnapshotDiff:
    """Everything that changed from one snapshot to the next (from nothing, the first time)."""

    state: Change | None = None
    results: list[Change] = field(default_factory=list)
    scores: list[Change] = field(default_factory=list)
    documents_added: list[Capture] = field(default_factory=list)
    documents_voided: list[Capture] = field(default_factory=list)
    documents_removed: list[Capture] = field(default_factory=list)
    selfies_added: list[Capture] = field(default_factory=list)
    selfies_voided: list[Capture] = field(default_factory=list)
    selfies_removed: list[Capture] = field(default_factory=list)
    checks: list[CheckChange] = field(default_factory=list)
    user_data: list[Change] = field(default_factory=list)
    devices_added: list[Device] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        """Whether nothing at all changed."""
        return self == SnapshotDiff()


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _items(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _state(report: Mapping[str, Any]) -> Any:
    state = _map(report.get("summary")).get("state")
    return state.get("value") if isinstance(state, Mapping) else state


def _by_id(report: Mapping[str, Any], key: str) -> dict[str, Mapping[str, Any]]:
    return {str(c["id"]): c for c in _items(report.get(key)) if c.get("id") is not None}


def _voided(capture: Mapping[str, Any]) -> bool:
    return bool(capture.get("voided") or _map(capture.get("meta")).get("voided"))


def _capture(capture_id: str, capture: Mapping[str, Any]) -> Capture:
    meta = _map(capture.get("meta"))
    return Capture(capture_id, meta.get("type"), meta.get("issuing_country"))


def _checks(checks: Any) -> dict[str, Any]:
    return {str(c["key"]): c.get("value") for c in _items(checks) if c.get("key") is not None}


def _scores(report: Mapping[str, Any]) -> dict[str, Any]:
    summary = _map(report.get("summary"))
    scores: dict[str, Any] = {"face_liveness": summary.get("face_liveness")}
    for match in _items(summary.get("face_matching")):
        meta = _map(match.get("meta"))
        pair = f"face_matching[document:{meta.get('document_id')},selfie:{meta.get('selfie_id')}]"
        scores[pair] = match.get("score")
    for selfie_id, selfie in _by_id(report, "selfies").items():
        scores[f"liveness[selfie:{selfie_id}]"] = selfie.get("liveness")
    return scores


def _user_data(report: Mapping[str, Any]) -> dict[str, Any]:
    summary = _map(report.get("summary"))
    fields = {
        f"user_data.{f['name']}": f.get("value")
        for f in _items(summary.get("user_data"))
        if f.get("name") is not None
    }
    for name, value in _map(summary.get("external_user_data")).items():
        fields[f"external_user_data.{name}"] = value
    return fields


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Change]:
    return [
        Change(name, before.get(name), after.get(name))
        for name in sorted(set(before) | set(after))
        if before.get(name) != after.get(name)
    ]


def _captures(
    before: Mapping[str, Any], after: Mapping[str, Any], key: str
) -> tuple[list[Capture], list[Capture], list[Capture]]:
    old, new = _by_id(before, key), _by_id(after, key)
    added = [_capture(i, c) for i, c in new.items() if i not in old]
    voided = [_capture(i, c) for i, c in new.items() if _voided(c) and not _voided(old.get(i, {}))]
    removed = [_capture(i, c) for i, c in old.items() if i not in new]
    return added, voided, removed


def _check_changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[CheckChange]:
    def all_checks(report: Mapping[str, Any]) -> dict[tuple[str, str], Any]:
        found = {
            ("summary", k): v for k, v in _checks(_map(report.get("summary")).get("checks")).items()
        }
        for key, where in (("documents", "document"), ("selfies", "selfie")):
            for capture_id, capture in _by_id(report, key).items():
                for check, value in _checks(capture.get("checks")).items():
                    found[(f"{where}:{capture_id}", check)] = value
        return found

    old, new = all_checks(before), all_checks(after)
    return [
        CheckChange(where, key, old.get((where, key)), new.get((where, key)))
        for where, key in sorted(set(old) | set(new))
        if old.get((where, key)) != new.get((where, key))
    ]


def _devices(report: Mapping[str, Any]) -> list[Device]:
    devices = _items(_map(report.get("summary")).get("devices"))
    return [Device(d.get("platform"), d.get("model"), d.get("ip")) for d in devices]


def snapshot_diff(previous: Mapping[str, Any] | None, current: Mapping[str, Any]) -> SnapshotDiff:
    """What changed from `previous` (None: the user's first snapshot) to `current`."""
    before: Mapping[str, Any] = previous or {}
    state_before, state_after = _state(before), _state(current)
    results_before = _map(_map(before.get("summary")).get("result"))
    results_after = _map(_map(current.get("summary")).get("result"))
    documents = _captures(before, current, "documents")
    selfies = _captures(before, current, "selfies")
    known_devices = _devices(before)
    return SnapshotDiff(
        state=Change("state", state_before, state_after) if state_before != state_after else None,
        results=[
            Change(name, results_before.get(name), results_after.get(name))
            for name in RESULTS
            if results_before.get(name) != results_after.get(name)
        ],
        scores=_changes(_scores(before), _scores(current)),
        documents_added=documents[0],
        documents_voided=documents[1],
        documents_removed=documents[2],
        selfies_added=selfies[0],
        selfies_voided=selfies[1],
        selfies_removed=selfies[2],
        checks=_check_changes(before, current),
        user_data=_changes(_user_data(before), _user_data(current)),
        devices_added=[d for d in _devices(current) if d not in known_devices],
    )
