"""Small pieces every generated report object is built from: timestamps, checks, media."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import Any

MEDIA_BASE = "https://apis.alicebiometrics.com/onboarding/media"

_FIELD_CHECK_DETAILS = {
    "checked_field": "The field passes its checksum",
    "complete_mrz_name": "Name is entirely contained in MRZ",
    "consistent_field": "The same field has the same value in other doc side",
    "expected_field": "The field matches what is expected",
    "valid_date_format": "Valid date format",
    "valid_date_range": "Date is within valid range",
    "over_18": "Over 18 years old",
    "unexpired_date": "Date has not expired",
}


def timestamp(moment: dt.datetime) -> str:
    """Alice's timestamp format: ISO 8601, microseconds, explicit UTC offset."""
    return moment.isoformat(timespec="microseconds")


def check(key: str, value: float | None, detail: str | None = None) -> dict[str, Any]:
    """A `{key, detail, value}` check object."""
    return {"key": key, "detail": detail or _FIELD_CHECK_DETAILS[key], "value": value}


def media(href_id: str, extension: str, objects: dict[str, Any] | None = None) -> dict[str, Any]:
    """A media entry pointing at the (production-looking) download URL of `href_id`."""
    return {
        "href": f"{MEDIA_BASE}/{href_id}/download",
        "extension": extension,
        "objects": objects or {},
    }


@dataclass(frozen=True, slots=True)
class DocumentVariant:
    """What sets one document apart from a plain, valid, complete one (all off by default)."""

    expired: bool = False
    voided: bool = False
    incomplete: bool = False  # the last side is not captured
    nfc: bool = False  # an `internal` side read from the chip, `authentic_nfc_chip` scored
    null_media: bool = False  # the front side's thumbnail entry is null
    forensics: bool = False  # each side carries `forensics_scores`
    failed_field_checks: frozenset[str] = frozenset()  # field check keys set to 0


def forensics(rng: random.Random) -> dict[str, Any]:
    """A side's `forensics_scores`, drawn from `rng`."""
    # The shape of forensics_scores is not published (the SDK: any JSON object): per detector.
    detectors = ("screen", "print", "synthetic", "template_match")
    return {name: round(rng.uniform(70.0, 99.9), 1) for name in detectors}


# Where a failing field check is put when no field of the document carries that key yet.
_FIELD_FOR_CHECK = {
    "valid_date_format": "birth_date",
    "valid_date_range": "expiration_date",
    "over_18": "birth_date",
    "unexpired_date": "expiration_date",
    "complete_mrz_name": "first_name",
}


def fail_field_checks(sides: dict[str, Any], keys: frozenset[str]) -> None:
    """Set each check of `keys` to 0 on the first field carrying it (adding it if none does)."""
    fields = [f for side in sides.values() if side is not None for f in side["fields"]]
    for key in sorted(keys):
        carrying = [f for f in fields if any(c["key"] == key for c in f["checks"])]
        if carrying:
            for found in carrying[0]["checks"]:
                if found["key"] == key:
                    found["value"] = 0.0
            continue
        wanted = _FIELD_FOR_CHECK.get(key, "last_name")
        target = next((f for f in fields if f["name"] == wanted), fields[0] if fields else None)
        if target is not None:
            target["checks"].append(check(key, 0.0))
