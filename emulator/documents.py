"""One identity document of a generated report: sides, fields, checks, media.

The structure follows the synthetic example in `tests/data/report-example.json` and Alice's SDK
models: an MRZ side whose fields carry `checked_field` checks, date fields with format and range
checks, the twelve document-level checks the SDK names (`not_a_forged_document`, seen only in the
example, is left out), of which `face_matching` equals the face matching score and
`authentic_nfc_chip` is scored only when the chip was read. A `DocumentVariant` turns on NFC,
expiry, voiding, a missing side, null media, forensics scores or failing field checks. Unknown
document types still render (front side only, a `document_number` field): the type set is open.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import Any

from emulator.parts import (
    MEDIA_BASE,
    DocumentVariant,
    check,
    fail_field_checks,
    forensics,
    media,
    timestamp,
)
from emulator.people import Person, mrz_td1, mrz_td3, serial_number
from emulator.sides import (
    ADULT_AGE,
    NFC_FIELDS,
    NFC_TYPES,
    Dates,
    Layout,
    field_values,
    pass_if,
    render_side,
    years_between,
)

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
_CHECK_DETAILS = {
    "authentic_nfc_chip": "The document's NFC is signed by an official authority. "
    "It has not been tampered nor cloned.",
    "checked_info_code": "The document's MRZ/PDF417/QR is checked",
    "coherent_document_dates": "The document dates are coherent with each other",
    "consistent_document": "There are less than 3 inconsistent fields between the document sides",
    "expected_document": "Read and selected documents match",
    "face_in_front_side": "The doc contains a face in its front side",
    "face_matching": "The document and active selfie faces are from the same person",
    "not_a_printed_document": "The document is not a print",
    "not_a_screen_document": "The document's pictures are not taken from a screen",
    "not_a_synthetic_document": "The document's pictures are not generated digitally",
    "uncompromised_document": "The document has not been found in our internal database "
    "of compromised documents",
    "unexpired_document": "The document has not expired",
}


def build_document(
    *,
    doc_type: str,
    country: str,
    person: Person,
    rng: random.Random,
    new_id: Callable[[str], str],
    created_at: dt.datetime,
    face_matching: float | None,
    variant: DocumentVariant = DocumentVariant(),  # noqa: B008 - frozen, never mutated
) -> dict[str, Any]:
    """Render one document; `new_id(label)` gives deterministic UUIDs, `rng` its values."""
    sides, mrz_side, mrz_kind, suffix = _LAYOUTS.get(
        doc_type, ({"front": _GENERIC_FRONT}, None, "", doc_type.upper())
    )
    # Draws for variants come from their own generator, so that turning a variant on leaves
    # every other value of the document as it was.
    extra = random.Random(new_id("variant"))
    nfc = variant.nfc and doc_type in NFC_TYPES
    number_field = DOCUMENT_NUMBER_FIELD.get(doc_type, "document_number")
    number = person.national_id if doc_type == "idcard" else serial_number(rng, doc_type[0].upper())
    issue = created_at.date() - dt.timedelta(days=rng.randrange(30, 365 * 8))
    if variant.expired:
        issue -= dt.timedelta(days=3652 + extra.randrange(30, 700))
    expiry = issue + dt.timedelta(days=3652)  # ten years, whatever the leap days
    dates = Dates(
        adult=years_between(person.birth_date, created_at.date()) >= ADULT_AGE,
        unexpired=expiry > created_at.date(),
    )
    mrz = (mrz_td1 if mrz_kind == "td1" else mrz_td3)(person, country, number, expiry)
    values = field_values(person, number, issue, expiry, mrz) | {
        "support_number": serial_number(rng, "B")
    }
    scores = {"address": rng.randint(80, 95), "birth_place": rng.randint(85, 95)}
    scores["support_number"] = rng.randint(95, 99)
    layout = Layout(
        number_field=number_field,
        mrz_side=mrz_side,
        paired=len(sides) > 1 and mrz_side is not None,
        template=f"{country}_{suffix}",
        dates=dates,
    )
    rendered_sides: dict[str, Any] = {"front": None, "back": None, "internal": None}
    summary: dict[str, dict[str, Any]] = {}
    moment = created_at
    side_names = list(sides.items()) + ([("internal", NFC_FIELDS)] if nfc else [])
    for index, (side, names) in enumerate(side_names):
        side_rng = extra if side == "internal" else rng
        moment += dt.timedelta(seconds=side_rng.uniform(8.0, 14.0))
        rendered = render_side(
            side,
            index=index,
            names=names,
            values=values,
            scores=scores,
            layout=layout,
            rng=side_rng,
            new_id=new_id,
        )
        rendered["created_at"] = timestamp(moment)
        if variant.null_media and index == 0:
            rendered["media"]["cropped_thumbnail"] = None
        if variant.forensics:
            rendered["forensics_scores"] = forensics(extra)
        rendered_sides[side] = rendered
        for field in rendered["fields"]:
            name = field["name"]
            if name not in _NOT_IN_SUMMARY and name not in summary:
                value = values.get(name, field["value"]) if name != number_field else number
                summary[name] = {"name": name, "value": value, "score": field["score"]}
                summary[name]["checks"] = []
    if variant.incomplete:  # the last side was never captured
        rendered_sides[side_names[-1][0] if len(side_names) > 1 else "back"] = None
    fail_field_checks(rendered_sides, variant.failed_field_checks)
    doc_checks: dict[str, float | None] = dict.fromkeys(_CHECK_DETAILS, 100.0)
    doc_checks["authentic_nfc_chip"] = round(extra.uniform(95.0, 100.0), 1) if nfc else None
    doc_checks["face_matching"] = face_matching
    doc_checks["not_a_printed_document"] = round(rng.uniform(80.0, 99.0), 1)
    doc_checks["not_a_screen_document"] = round(rng.uniform(85.0, 99.0), 1)
    doc_checks["not_a_synthetic_document"] = round(rng.uniform(90.0, 99.5), 1)
    doc_checks["unexpired_document"] = pass_if(dates.unexpired)
    if mrz_side is None:
        doc_checks["checked_info_code"] = None
    return {
        "id": new_id("id"),
        "created_at": timestamp(created_at),
        "checks": [check(key, value, _CHECK_DETAILS[key]) for key, value in doc_checks.items()],
        "summary_fields": list(summary.values()),
        "sides": rendered_sides,
        "meta": {
            "type": doc_type,
            "issuing_country": country,
            "completed": not variant.incomplete,
            "voided": variant.voided,
        },
    }


__all__ = [
    "ADULT_AGE",
    "MEDIA_BASE",
    "DocumentVariant",
    "build_document",
    "check",
    "media",
    "pass_if",
    "timestamp",
    "years_between",
]
