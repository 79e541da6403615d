"""One side of a generated document: its fields, their checks, its media.

Machine-read sides (the MRZ side, and the NFC chip's `internal` side) carry `checked_field`
checks; paired sides carry `consistent_field`; date fields carry format and range checks, and on
the first side `over_18` and `unexpired_date`, which follow the holder's age and the expiry date.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emulator.parts import check, media
from emulator.people import Person, to_ascii

_MRZ_CHECKED = {"first_name", "last_name", "NUMBER", "id_number", "birth_date"}
_MRZ_CHECKED |= {"expiration_date", "mrz"}


def years_between(earlier: dt.date, later: dt.date) -> int:
    """Whole years from `earlier` to `later` (an age)."""
    return later.year - earlier.year - ((later.month, later.day) < (earlier.month, earlier.day))


def pass_if(condition: bool) -> float:
    """A check value: 100 when the condition holds, 0 when it does not."""
    return 100.0 if condition else 0.0


def _field_checks(
    name: str, *, first_side: bool, mrz_side: bool, paired: bool, dates: Dates
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
            checks.append(check("over_18", pass_if(dates.adult)))
        if first_side and name == "expiration_date":
            checks.append(check("unexpired_date", pass_if(dates.unexpired)))
    return checks


@dataclass(frozen=True, slots=True)
class Dates:
    """What a document's dates say about its holder and itself."""

    adult: bool
    unexpired: bool


NFC_FIELDS: tuple[str, ...] = (
    "first_name",
    "last_name",
    "NUMBER",
    "birth_date",
    "expiration_date",
)
NFC_FIELDS += ("nationality", "gender")
NFC_TYPES = {"idcard", "passport", "residencepermit"}


ADULT_AGE = 18


@dataclass(frozen=True, slots=True)
class Layout:
    """How a document type lays its fields out, and its dates."""

    number_field: str
    mrz_side: str | None
    paired: bool
    template: str
    dates: Dates


def field_values(
    person: Person, number: str, issue: dt.date, expiry: dt.date, mrz: str
) -> dict[str, str]:
    """Every value a field of the document may show, by field name."""
    return {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "NUMBER": number,
        "id_number": person.national_id,
        "birth_date": person.birth_date.isoformat(),
        "nationality": person.nationality,
        "gender": person.gender,
        "issue_date": issue.isoformat(),
        "expiration_date": expiry.isoformat(),
        "address": person.address,
        "birth_place": person.birth_place,
        "categories": "AM B",
        "mrz": mrz,
    }


def render_side(
    side: str,
    *,
    index: int,
    names: tuple[str, ...],
    values: dict[str, str],
    scores: dict[str, int],
    layout: Layout,
    rng: random.Random,
    new_id: Callable[[str], str],
) -> dict[str, Any]:
    """One side: its fields with their checks, and its media (timestamps set by the caller)."""
    machine_read = side in {layout.mrz_side, "internal"}
    fields = []
    for name in names:
        value = values[name]
        if machine_read and name in {"first_name", "last_name"}:
            value = to_ascii(value)
        field_checks = _field_checks(
            name,
            first_side=index == 0,
            mrz_side=machine_read,
            paired=layout.paired,
            dates=layout.dates,
        )
        field_name = layout.number_field if name == "NUMBER" else name
        fields.append(
            {"name": field_name, "value": value, "score": scores.get(name, 100)}
            | {"checks": field_checks}
        )
    if side == "internal":  # the chip holds the holder's photo only
        side_media = {"face": media(new_id("internal/media/face"), "jpg")}
    else:
        face = {"face": {"x": rng.randint(20, 60), "y": rng.randint(80, 110)}} if index == 0 else {}
        if face:
            face["face"] |= {"width": rng.randint(150, 190), "height": rng.randint(200, 230)}
        side_media = {
            "document": media(new_id(f"{side}/media/document"), "jpg"),
            "cropped_document": media(new_id(f"{side}/media/cropped"), "jpg", face),
            "cropped_thumbnail": media(new_id(f"{side}/media/thumbnail"), "jpg"),
        }
    return {
        "side": side,
        "fields": fields,
        "media": side_media,
        "meta": {"template": layout.template, "manual": False},
        "created_at": None,
        "forensics_scores": None,
    }
