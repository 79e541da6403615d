"""The minimisation rules: which parts of a report are not stored (GDPR Art. 5(1)(c)). Pure.

Each rule names one kind of personal data the service has no use for once the report is
validated and its changes derived. `REPORT_MINIMISATION` lists the rules in force; the default
drops what no derived event and no change detection needs (README "Personal data").
"""

from __future__ import annotations

from typing import Final

from service.report.constants import KNOWN_DOCUMENT_NUMBER_FIELDS

MEDIA_LINKS: Final = "media_links"
BOUNDING_BOXES: Final = "bounding_boxes"
DEVICE_IPS: Final = "device_ips"
DOCUMENT_NUMBER_LAST4: Final = "document_number_last4"
MRZ: Final = "mrz"
ADDRESSES: Final = "addresses"
BIRTH_DATES: Final = "birth_dates"
EXTERNAL_USER_DATA: Final = "external_user_data"

# What each rule removes, in the order the README's table lists them.
RULES: Final[dict[str, str]] = {
    MEDIA_LINKS: "the `href` of every media entry (selfies, document sides, trusted documents)",
    BOUNDING_BOXES: "the `objects` (face and document regions) of every media entry",
    DEVICE_IPS: "the `ip` of `summary.devices[]` and of each event's `device`",
    DOCUMENT_NUMBER_LAST4: "document number fields keep their last four characters only",
    MRZ: "the value of `mrz` fields (it repeats the number, names and dates)",
    ADDRESSES: "the value of `address` fields",
    BIRTH_DATES: "the value of `birth_date` fields",
    EXTERNAL_USER_DATA: "`summary.external_user_data` (name and e-mail given at user creation)",
}

# The recommended set (README): everything no derived event and no change detection reads.
RECOMMENDED_RULES: Final = (MEDIA_LINKS, BOUNDING_BOXES, DEVICE_IPS, DOCUMENT_NUMBER_LAST4, MRZ)

# Document fields holding a document's own number: the number fields of every known document
# type, the Spanish ID card's support number, and the emulator's name for unknown types.
DOCUMENT_NUMBER_FIELDS: Final = frozenset(
    (*KNOWN_DOCUMENT_NUMBER_FIELDS, "support_number", "document_number")
)
KEEP_LAST: Final = 4

NONE: Final = "none"


def parse_rules(text: str) -> tuple[str, ...]:
    """Rules from their comma-separated names (`none` or nothing: no rule); sorted, unique.

    Raises ValueError naming an unknown rule, so that a typo never stores what it meant to drop.
    """
    # Also takes "('mrz', 'media_links')" and "[...]", as Python prints a tuple or a list.
    names = {part.strip(" '\"()[]").lower() for part in text.split(",")}
    names -= {"", NONE}
    unknown = sorted(names - set(RULES))
    if unknown:
        raise ValueError(f"unknown minimisation rules {unknown}; known: {', '.join(RULES)}")
    return tuple(name for name in RULES if name in names)
