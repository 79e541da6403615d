"""Deterministic report generation: `ReportInputs` in, the `{"report": {...}}` bytes out.

Every random draw comes from a `random.Random` seeded by (emulator seed, user id, what is being
drawn), and every id is a UUIDv5 of the user id and a label, so the same inputs always give the
same bytes, and adding a document or an event leaves everything already there unchanged.
Bytes are pretty-printed UTF-8 (indent 2) like the example: 20-40 KB for the default two
documents.

Consistency rules: `summary.face_liveness` and the selfie's liveness are the same value;
`selfie_security` is "ko" below 50, "n/a" when null; `document_security` is "ko" when any
non-null document check is below 50; each document's `face_matching` check equals its entry in
`summary.face_matching`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import functools
import hashlib
import json
import random
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from emulator.documents import (
    ADULT_AGE,
    DOCUMENT_NUMBER_FIELD,
    build_document,
    check,
    media,
    pass_if,
    timestamp,
    years_between,
)
from emulator.parts import DocumentVariant
from emulator.people import Person, make_person
from emulator.variety import apply_features, document_variant, under_age_birth_date

_NAMESPACE = uuid.UUID("5b0c8a43-7c55-4f0e-9b7b-3f3a2d1e9c10")
_DEVICES = [
    {"agent": "onboarding-web", "agent_version": "2.6.0", "platform": "web"}
    | {"platform_version": "Chrome 120.0", "model": "Macintosh"},
    {"agent": "onboarding-ios", "agent_version": "5.3.1", "platform": "ios"}
    | {"platform_version": "17.2", "model": "iPhone15,2"},
    {"agent": "onboarding-android", "agent_version": "5.2.0", "platform": "android"}
    | {"platform_version": "14", "model": "Pixel 7"},
]
_DEFAULT_DOCUMENT_SETS = [
    ("idcard", "passport"),
    ("idcard", "driverlicense"),
    ("residencepermit", "passport"),
    ("passport", "driverlicense"),
]


class Unset(enum.Enum):
    """Marker for "not overridden": the generator's own draw applies."""

    UNSET = "UNSET"


UNSET = Unset.UNSET
Score = float | None
"""A score 0-100, or None for "not analysed yet / does not apply"."""


@dataclass(frozen=True, slots=True)
class DocumentSpec:
    """A document the user uploaded; `issuing_country` None means the user's nationality."""

    doc_type: str
    issuing_country: str | None = None
    expired: bool = False  # added by the admin API as expired (its expiry date has passed)


@dataclass(frozen=True, slots=True)
class EventSpec:
    """An extra event appended to the report's `events` list."""

    event_type: str
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReportInputs:
    """Everything a report depends on; equal inputs give equal bytes."""

    user_id: str
    seed: int
    state: str
    documents: tuple[DocumentSpec, ...]
    onboarding_documents: int
    liveness: Score | Unset = UNSET
    face_matching: Score | Unset = UNSET
    events: tuple[EventSpec, ...] = ()
    features: frozenset[str] = frozenset()  # names from `emulator.variety.FEATURES`


_Event = tuple[dt.datetime, dict[str, Any]]


def rng_for(seed: int, user_id: str, label: str) -> random.Random:
    """A pseudo-random generator that depends only on (seed, user id, label)."""
    digest = hashlib.sha256(f"{seed}\x00{user_id}\x00{label}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def stable_id(user_id: str, label: str) -> str:
    """A UUIDv5 of the user id and a label: the same pair always gives the same id."""
    return str(uuid.uuid5(_NAMESPACE, f"{user_id}/{label}"))


def _document_id(user_id: str, index: int, label: str) -> str:
    return stable_id(user_id, f"document/{index}/{label}")


def default_documents(seed: int, user_id: str) -> tuple[DocumentSpec, ...]:
    """The two documents a fresh user has uploaded during onboarding."""
    choice = rng_for(seed, user_id, "documents").choice(_DEFAULT_DOCUMENT_SETS)
    return tuple(DocumentSpec(doc_type) for doc_type in choice)


def _user_data(
    person: Person, documents: list[Any], start: dt.datetime, features: frozenset[str]
) -> list[dict[str, Any]]:
    """The summary's best-read user data: the person, and the first document's number."""
    first = documents[0]["summary_fields"] if documents else []
    number = next((f for f in first if f["name"] in DOCUMENT_NUMBER_FIELD.values()), None)
    adult = years_between(person.birth_date, start.date()) >= ADULT_AGE
    over_18 = pass_if(adult and "failed_over_18" not in features)
    return [
        {"name": "first_name", "value": person.first_name, "score": 100, "checks": []},
        {"name": "last_name", "value": person.last_name, "score": 100, "checks": []},
        {"name": "birth_date", "value": person.birth_date.isoformat(), "score": 100}
        | {"checks": [check("over_18", over_18)]},
        {"name": "nationality", "value": person.nationality, "score": 100, "checks": []},
        {"name": "gender", "value": person.gender, "score": 100, "checks": []},
        *([number] if number else []),
        {"name": "address", "value": person.address, "score": 87, "checks": []},
    ]


def _with_expiry(variant: DocumentVariant, spec: DocumentSpec) -> DocumentVariant:
    # A document added expired by the admin API is expired whatever the user's features say.
    return dataclasses.replace(variant, expired=True) if spec.expired else variant


def build_report(inputs: ReportInputs) -> dict[str, Any]:  # noqa: PLR0915 - one report, top to bottom
    """The report object (without the envelope)."""
    uid, seed = inputs.user_id, inputs.seed
    person = make_person(rng_for(seed, uid, "person"))
    base = rng_for(seed, uid, "time")
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(
        seconds=base.randrange(30_000_000)
    )
    device = dict(base.choice(_DEVICES)) | {"ip": f"203.0.113.{base.randint(2, 250)}"}
    features = inputs.features
    if "under_age" in features:
        birth = under_age_birth_date(start, rng_for(seed, uid, "feature/under_age"))
        person = dataclasses.replace(person, birth_date=birth)

    def event(label: str, kind: str, at: dt.datetime, attrs: Mapping[str, Any]) -> _Event:
        body = {"type": kind, "id": stable_id(uid, f"event/{label}"), "occurred_on": timestamp(at)}
        return at, body | {"attributes": dict(attrs), "device": device}

    selfie_rng = rng_for(seed, uid, "selfie")
    genuine = selfie_rng.random() < 0.85  # some onboardings are spoof attempts
    drawn = round(selfie_rng.uniform(60.0, 99.5) if genuine else selfie_rng.uniform(3.0, 45.0), 1)
    liveness = drawn if isinstance(inputs.liveness, Unset) else inputs.liveness
    selfie_id = stable_id(uid, "selfie/0")
    face_box = {"x": selfie_rng.randint(150, 250), "y": selfie_rng.randint(100, 180)}
    face_box |= {"width": selfie_rng.randint(200, 260), "height": selfie_rng.randint(280, 320)}
    selfie_at = start + dt.timedelta(seconds=34.412)
    selfie = {
        "id": selfie_id,
        "created_at": timestamp(selfie_at),
        "checks": [
            check("liveness", liveness, "The selfie is from a real person"),
            check("only_one_face", 100.0, "Only one face detected in the Selfie"),
        ],
        "liveness": liveness,
        "voided": False,
        "number_of_faces": 1,
        "media": {
            "video": media(stable_id(uid, "selfie/0/video"), "mp4"),
            "preview": media(stable_id(uid, "selfie/0/preview"), "jpg", {"face": face_box}),
            "cropped_face": media(stable_id(uid, "selfie/0/cropped_face"), "jpg"),
        },
    }
    events = [event("user_created", "user_created", start, {})]
    events.append(event("selfie/0", "selfie_added", selfie_at, {"selfie_id": selfie_id}))
    documents, matches = [], []
    for index, spec in enumerate(inputs.documents):
        doc_rng = rng_for(seed, uid, f"document/{index}")
        drawn_match = round(doc_rng.uniform(62.0, 97.0), 1)
        match = drawn_match if isinstance(inputs.face_matching, Unset) else inputs.face_matching
        late = index >= inputs.onboarding_documents
        created = start + dt.timedelta(seconds=(3600 if late else 70) + 90 * index + 0.001)
        country = spec.issuing_country or person.nationality
        document = build_document(
            doc_type=spec.doc_type,
            country=country,
            person=person,
            rng=doc_rng,
            new_id=functools.partial(_document_id, uid, index),
            created_at=created,
            face_matching=match,
            variant=_with_expiry(document_variant(features, index, len(inputs.documents)), spec),
        )
        documents.append(document)
        attrs = {"document_id": document["id"], "document_type": spec.doc_type}
        attrs["issuing_country_alpha3"] = country
        events.append(event(f"document/{index}", "document_created", created, attrs))
        for side in (s for s in document["sides"].values() if s is not None):
            side_at = dt.datetime.fromisoformat(side["created_at"])
            side_attrs = attrs | {"side": side["side"], "manual": False}
            label = f"document/{index}/{side['side']}"
            events.append(event(label, "document_side_added", side_at, side_attrs))
        front = document["sides"]["front"]
        matched_at = dt.datetime.fromisoformat(front["created_at"]) + dt.timedelta(seconds=0.769)
        meta = {"document_id": document["id"], "selfie_id": selfie_id}
        matches.append(
            {"score": match, "meta": meta | {"created_at": timestamp(matched_at), "side": "front"}}
        )
    completed_at = start + dt.timedelta(seconds=70 + 90 * inputs.onboarding_documents + 15.7)
    events.append(event("onboarding_completed", "onboarding_completed", completed_at, {}))
    for index, extra in enumerate(inputs.events):
        at = start + dt.timedelta(seconds=7200 + 60 * index)
        events.append(event(f"extra/{index}", extra.event_type, at, extra.attributes))
    events.sort(key=lambda pair: pair[0])
    user_data = _user_data(person, documents, start, features)
    doc_values = [c["value"] for d in documents for c in d["checks"] if c["value"] is not None]
    result = {
        "selfie_security": "n/a" if liveness is None else ("ok" if liveness >= 50 else "ko"),
        "document_security": "n/a"
        if not documents
        else ("ok" if all(v >= 50 for v in doc_values) else "ko"),
        "document_read": "ok" if documents else "n/a",
        "process_security": "ok",
    }
    summary = {
        "result": result,
        "face_liveness": liveness,
        "face_matching": matches,
        "checks": [
            check(
                "only_one_device_check",
                100.0,
                "All information has been uploaded by the user with the same device",
            ),
            check(
                "only_one_ip_check",
                100.0,
                "All information has been uploaded by the user with the same ip",
            ),
        ],
        "user_data": user_data,
        "external_user_data": {"first_name": None, "last_name": None, "email": person.email},
        "sessions": 1,
        "sessions_until_first_succeeded_onboarding": 1,
        "devices": [device],
        "state": {"value": inputs.state},
    }
    report = {
        "id": stable_id(uid, "report"),
        "user_id": uid,
        "version": 1,
        "created_at": timestamp(events[-1][0] + dt.timedelta(seconds=34.3)),
        "summary": summary,
        "selfies": [selfie],
        "documents": documents,
        "other_trusted_documents": [],
        "events": [body for _, body in events],
        "duplicates": [],
    }
    if features:
        new_id = functools.partial(stable_id, uid)
        apply_features(report, features, new_id, rng_for(seed, uid, "features"))
    return report


def render_report(inputs: ReportInputs) -> bytes:
    """The HTTP body of `GET /user/report`: `{"report": {...}}`, UTF-8, indented."""
    return json.dumps({"report": build_report(inputs)}, indent=2, ensure_ascii=False).encode()
