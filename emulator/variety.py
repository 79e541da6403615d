"""Named report features: the variety of what Alice sends, turned on per user.

A user's report is its default onboarding plus a set of features. `SDK_FEATURES` render reports
that Alice's SDK models (alice-onboarding 5.1.2) accept; `DRIFT_FEATURES` render what the SDK
says never happens (closed enums broken, null face-matching scores, another user's report), to
test leniency. Each feature changes only what it names: its random draws come from generators of
their own, so turning one on leaves the rest of the report as it was.

Features applied while documents and the person are drawn: `under_age`, `expired_document`,
`voided_document`, `incomplete_document`, `nfc`, `null_media`, `forensics_scores`,
`failed_<field check key>`. The rest are applied to the rendered report by `apply_features`.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterable
from typing import Any

from emulator.parts import DocumentVariant, check, media, timestamp

FIELD_CHECK_KEYS: tuple[str, ...] = (
    "checked_field",
    "complete_mrz_name",
    "consistent_field",
    "expected_field",
    "over_18",
    "unexpired_date",
    "valid_date_format",
    "valid_date_range",
)
SDK_FEATURES: tuple[str, ...] = (
    "nfc",
    "proof_of_address",
    "voided_document",
    "incomplete_document",
    "voided_selfie",
    "expired_document",
    "under_age",
    "duplicates",
    "null_media",
    "event_versions",
    "forensics_scores",
    "several_devices",
    *(f"failed_{key}" for key in FIELD_CHECK_KEYS),
)
DRIFT_FEATURES: tuple[str, ...] = (
    "drift_unknown_values",  # a result outside ok/ko/n/a, a new check key and event type
    "drift_inprogress_state",  # the docs' spelling INPROGRESS instead of IN_PROGRESS
    "drift_null_face_matching",  # face matching scores null (the SDK types them required)
    "drift_other_user",  # the report names another user than the one asked for
)
FEATURES: tuple[str, ...] = SDK_FEATURES + DRIFT_FEATURES
SECOND_DEVICE = {"agent": "onboarding-android", "agent_version": "5.2.0", "platform": "android"}
SECOND_DEVICE |= {"platform_version": "13", "model": "SM-A536B", "ip": "198.51.100.77"}


def check_features(features: Iterable[str]) -> frozenset[str]:
    """The features as a set; raises ValueError naming an unknown one."""
    chosen = frozenset(features)
    unknown = sorted(chosen - set(FEATURES))
    if unknown:
        raise ValueError(f"unknown report features {unknown}; known: {list(FEATURES)}")
    return chosen


def draw_features(rng: random.Random) -> frozenset[str]:
    """One to three SDK features, for a user chosen by the emulator's `variety` share."""
    return frozenset(rng.sample(SDK_FEATURES, rng.randint(1, 3)))


def document_variant(features: frozenset[str], index: int, count: int) -> DocumentVariant:
    """What the features change in the document at `index` of `count`."""
    first, last = index == 0, index == count - 1
    return DocumentVariant(
        expired=first and "expired_document" in features,
        voided=first and "voided_document" in features,
        incomplete=last and "incomplete_document" in features,
        nfc="nfc" in features,
        null_media=first and "null_media" in features,
        forensics="forensics_scores" in features,
        failed_field_checks=frozenset(
            key for key in FIELD_CHECK_KEYS if first and f"failed_{key}" in features
        ),
    )


def under_age_birth_date(start: dt.datetime, rng: random.Random) -> dt.date:
    """A birth date 15-17 years before the onboarding started."""
    return start.date() - dt.timedelta(days=365 * 15 + rng.randrange(30, 700))


def apply_features(
    report: dict[str, Any],
    features: frozenset[str],
    new_id: Callable[[str], str],
    rng: random.Random,
) -> None:
    """Apply the features that act on the rendered report (in place)."""
    summary, events = report["summary"], report["events"]
    created = dt.datetime.fromisoformat(report["created_at"])
    if "voided_selfie" in features:
        _add_voided_selfie(report, new_id, rng)
    if "proof_of_address" in features:
        pdf = None if "null_media" in features else media(new_id("otd/0/pdf"), "pdf")
        report["other_trusted_documents"].append(
            {
                "id": new_id("otd/0"),
                "created_at": timestamp(created - dt.timedelta(seconds=20.5)),
                "media": {"pdf": pdf},
                "meta": {"voided": False, "category": "proof_of_address"},
            }
        )
    if "duplicates" in features:
        # The item schema of duplicates is not published: an id of the other user only.
        count = rng.randint(1, 2)
        report["duplicates"] = [{"user_id": new_id(f"duplicate/{i}")} for i in range(count)]
    if "event_versions" in features:
        for event in events:
            event["version"] = 2 if event["type"] == "document_side_added" else 1
    if "several_devices" in features:
        summary["sessions"], summary["sessions_until_first_succeeded_onboarding"] = 3, 2
        summary["devices"].append(dict(SECOND_DEVICE))
        for event in events[len(events) // 2 :]:
            event["device"] = dict(SECOND_DEVICE)
        for summary_check in summary["checks"]:
            summary_check["value"] = 0.0
        summary["result"]["process_security"] = "ko"
    _apply_drift(report, features, new_id)


def _add_voided_selfie(
    report: dict[str, Any], new_id: Callable[[str], str], rng: random.Random
) -> None:
    active = report["selfies"][0]
    at = dt.datetime.fromisoformat(active["created_at"]) - dt.timedelta(seconds=21.3)
    liveness = round(rng.uniform(5.0, 40.0), 1)
    voided = {
        "id": new_id("selfie/voided"),
        "created_at": timestamp(at),
        "checks": [
            check("liveness", liveness, "The selfie is from a real person"),
            check("only_one_face", 100.0, "Only one face detected in the Selfie"),
        ],
        "liveness": liveness,
        "voided": True,
        "number_of_faces": 1,
        "media": {
            "video": media(new_id("selfie/voided/video"), "mp4"),
            "preview": media(new_id("selfie/voided/preview"), "jpg"),
        },
    }
    report["selfies"].insert(0, voided)


def _apply_drift(
    report: dict[str, Any], features: frozenset[str], new_id: Callable[[str], str]
) -> None:
    summary = report["summary"]
    if "drift_unknown_values" in features:
        summary["result"]["document_read"] = "partial"
        for document in report["documents"][:1]:
            document["checks"].append(
                {"key": "deepfake_document", "detail": "Not a deepfake", "value": 100.0}
            )
        last = report["events"][-1]
        report["events"].append(last | {"id": new_id("event/drift"), "type": "user_paused"})
    if "drift_inprogress_state" in features:
        summary["state"] = {"value": "INPROGRESS"}
    if "drift_null_face_matching" in features:
        for match in summary["face_matching"]:
            match["score"] = None
        for document in report["documents"]:
            for document_check in document["checks"]:
                if document_check["key"] == "face_matching":
                    document_check["value"] = None
    if "drift_other_user" in features:
        report["user_id"] = new_id("other-user")
