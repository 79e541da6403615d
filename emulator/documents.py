"""One identity document of a generated report: sides, fields, checks, media.

The structure follows the synthetic example in `tests/data/report-example.json`: an MRZ side
whose fields carry `checked_field` checks, date fields with format and range checks, thirteen
document-level checks of which `face_matching` equals the face matching score. Unknown document
types still render (front side only, a `document_number` field): the type set is open.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import Any

from emulator.people import Person, mrz_td1, mrz_td3, serial_number, to_ascii

MEDIA_BASE = "https://apis.alicebiometrics.com/onboarding/media"

DOCUMENT_NUMBER_FIELD: dict[str, str] = {
    "idcard": "id_number",
    "residencepermit": "id_number",
    "passport": "passport_number",
    "driverlicense": "license_number",
    "healthinsurancecard": "health_insurance_number",
}
DOCUMENT_TYPES: tuple[str, ...] = tuple(DOCUMENT_NUMBER_FIELD)

_BACK: tuple[str, ...] = ("first_name", "last_name", "NUMBER", "birth_date", "expiration_date")
_BACK += ("nationality", "gender", "address", "birth_place", "mrz")
_CARD_FRONT: tuple[str, ...] = ("first_name", "last_name", "NUMBER", "birth_date")
_CARD_FRONT += ("nationality", "gender", "issue_date", "expiration_date")
# type -> (fields per side, MRZ side, MRZ format, template suffix)
_LAYOUTS: dict[str, tuple[dict[str, tuple[str, ...]], str | None, str, str]] = {
    "idcard": (
        {"front": (*_CARD_FRONT, "support_number"), "back": _BACK},
        "back",
        "td1",
        "ID_2021",
    ),
    "residencepermit": ({"front": _CARD_FRONT, "back": _BACK}, "back", "td1", "RP_2020"),
    "passport": (
        {"front": (*_CARD_FRONT[:3], "id_number", *_CARD_FRONT[3:], "birth_place", "mrz")},
        "front",
        "td3",
        "PASSPORT_2006",
    ),
    "driverlicense": (
        {
            "front": (*_CARD_FRONT[:4], "issue_date", "expiration_date", "address"),
            "back": ("NUMBER", "categories"),
        },
        None,
        "",
        "DL_2013",
    ),
}
_GENERIC_FRONT = ("first_name", "last_name", "NUMBER", "birth_date", "expiration_date")
_NOT_IN_SUMMARY = {"mrz", "support_number", "birth_place", "categories"}
_MRZ_CHECKED = {"first_name", "last_name", "NUMBER", "id_number", "birth_date"}
_MRZ_CHECKED |= {"expiration_date", "mrz"}
_CHECK_DETAILS = {
    "authentic_nfc_chip": "The document's NFC is signed by an official authority. "
    "It has not been tampered nor cloned.",
    "checked_info_code": "The document's MRZ/PDF417/QR is checked",
    "coherent_document_dates": "The document dates are coherent with each other",
    "consistent_document": "There are less than 3 inconsistent fields between the document sides",
    "expected_document": "Read and selected documents match",
    "face_in_front_side": "The doc contains a face in its front side",
    "face_matching": "The document and active selfie faces are from the same person",
    "not_a_forged_document": "The document is not forgery",
    "not_a_printed_document": "The document is not a print",
    "not_a_screen_document": "The document's pictures are not taken from a screen",
    "not_a_synthetic_document": "The document's pictures are not generated digitally",
    "uncompromised_document": "The document has not been found in our internal database "
    "of compromised documents",
    "unexpired_document": "The document has not expired",
}
_FIELD_CHECK_DETAILS = {
    "checked_field": "The field passes its checksum",
    "complete_mrz_name": "Name is entirely contained in MRZ",
    "consistent_field": "The same field has the same value in other doc side",
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


def _field_checks(
    name: str, *, first_side: bool, mrz_side: bool, paired: bool, expired: bool = False
) -> list[Any]:
    checks = []
    if mrz_side and name in _MRZ_CHECKED:
        checks.append(check("checked_field", 100.0))
        if name == "first_name":
            checks.append(check("complete_mrz_name", 100.0))
    elif paired and name in {"first_name", "last_name", "NUMBER"}:
        checks.append(check("consistent_field", 100.0))
    if name.endswith("_date"):
        checks += [check("valid_date_format", 100.0), check("valid_date_range", 100.0)]
        if first_side and name == "birth_date":
            checks.append(check("over_18", 100.0))
        if first_side and name == "expiration_date":
            checks.append(check("unexpired_date", 0.0 if expired else 100.0))
    return checks


def build_document(
    *,
    doc_type: str,
    country: str,
    person: Person,
    rng: random.Random,
    new_id: Callable[[str], str],
    created_at: dt.datetime,
    face_matching: float | None,
    expired: bool = False,
) -> dict[str, Any]:
    """Render one document; `new_id(label)` gives deterministic UUIDs, `rng` its values.

    `expired`: issued over ten years before `created_at`, so its expiry date has passed and its
    `unexpired_document` and `unexpired_date` checks fail."""
    sides, mrz_side, mrz_kind, suffix = _LAYOUTS.get(
        doc_type, ({"front": _GENERIC_FRONT}, None, "", doc_type.upper())
    )
    number_field = DOCUMENT_NUMBER_FIELD.get(doc_type, "document_number")
    number = person.national_id if doc_type == "idcard" else serial_number(rng, doc_type[0].upper())
    issued_days_ago = rng.randrange(30, 365 * 8) + (3652 if expired else 0)
    issue = created_at.date() - dt.timedelta(days=issued_days_ago)
    expiry = issue + dt.timedelta(days=3652)  # ten years, whatever the leap days
    mrz = (mrz_td1 if mrz_kind == "td1" else mrz_td3)(person, country, number, expiry)
    values = {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "NUMBER": number,
        "id_number": person.national_id,
        "birth_date": person.birth_date.isoformat(),
        "nationality": person.nationality,
        "gender": person.gender,
        "issue_date": issue.isoformat(),
        "expiration_date": expiry.isoformat(),
        "support_number": serial_number(rng, "B"),
        "address": person.address,
        "birth_place": person.birth_place,
        "categories": "AM B",
        "mrz": mrz,
    }
    scores = {"address": rng.randint(80, 95), "birth_place": rng.randint(85, 95)}
    scores["support_number"] = rng.randint(95, 99)
    paired = len(sides) > 1 and mrz_side is not None
    rendered_sides: dict[str, Any] = {"front": None, "back": None, "internal": None}
    summary: dict[str, dict[str, Any]] = {}
    moment = created_at
    for index, (side, names) in enumerate(sides.items()):
        moment += dt.timedelta(seconds=rng.uniform(8.0, 14.0))
        fields = []
        for name in names:
            value = values[name]
            if side == mrz_side and name in {"first_name", "last_name"}:
                value = to_ascii(value)
            field_name = number_field if name == "NUMBER" else name
            field_checks = _field_checks(
                name,
                first_side=index == 0,
                mrz_side=side == mrz_side,
                paired=paired,
                expired=expired,
            )
            score = scores.get(name, 100)
            fields.append(
                {"name": field_name, "value": value, "score": score, "checks": field_checks}
            )
            if name not in _NOT_IN_SUMMARY and field_name not in summary:
                summary[field_name] = {"name": field_name, "value": values[name], "score": score}
                summary[field_name]["checks"] = []
        face = {"face": {"x": rng.randint(20, 60), "y": rng.randint(80, 110)}} if index == 0 else {}
        if face:
            face["face"] |= {"width": rng.randint(150, 190), "height": rng.randint(200, 230)}
        rendered_sides[side] = {
            "side": side,
            "fields": fields,
            "media": {
                "document": media(new_id(f"{side}/media/document"), "jpg"),
                "cropped_document": media(new_id(f"{side}/media/cropped"), "jpg", face),
                "cropped_thumbnail": media(new_id(f"{side}/media/thumbnail"), "jpg"),
            },
            "meta": {"template": f"{country}_{suffix}", "manual": False},
            "created_at": timestamp(moment),
            "forensics_scores": None,
        }
    doc_checks: dict[str, float | None] = dict.fromkeys(_CHECK_DETAILS, 100.0)
    doc_checks |= {"authentic_nfc_chip": None, "not_a_forged_document": None}
    doc_checks["face_matching"] = face_matching
    doc_checks["unexpired_document"] = 0.0 if expired else 100.0
    doc_checks["not_a_printed_document"] = round(rng.uniform(80.0, 99.0), 1)
    doc_checks["not_a_screen_document"] = round(rng.uniform(85.0, 99.0), 1)
    doc_checks["not_a_synthetic_document"] = round(rng.uniform(90.0, 99.5), 1)
    if mrz_side is None:
        doc_checks["checked_info_code"] = None
    return {
        "id": new_id("id"),
        "created_at": timestamp(created_at),
        "checks": [check(key, value, _CHECK_DETAILS[key]) for key, value in doc_checks.items()],
        "summary_fields": list(summary.values()),
        "sides": rendered_sides,
        "meta": {"type": doc_type, "issuing_country": country, "completed": True, "voided": False},
    }
