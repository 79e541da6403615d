"""Masking of personal values in a user's history. Pure.

A history is shown to reviewers and their tools; by default it must not print who the person
is. Each field is classified by its name (the report's `user_data` names, `ip`):

- names, addresses, e-mails and any other personal text: the first three characters, then
  `***` (`CARMEN` -> `CAR***`); three characters or fewer become `***`;
- document numbers: `****` and the last four characters (`99999999R` -> `****999R`);
- birth dates: `****-**-**` (a birth date next to a name identifies a person: nothing kept);
- IP addresses: the network part only (`203.0.113.24` -> `203.0.*.*`, IPv6: the first two
  groups);
- the few fields that say nothing about who the person is (nationality, document dates,
  issuing country) are shown as they are.

Unknown field names are masked as personal text: a new field Alice adds stays hidden.
"""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from typing import Final


class Kind(StrEnum):
    """How a value is masked."""

    PUBLIC = "public"
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    IP = "ip"


PUBLIC_FIELDS: Final = frozenset(
    {"nationality", "issuing_country", "issue_date", "expiration_date", "expiry_date"}
)
NUMBER_FIELDS: Final = frozenset(
    {
        "id_number",
        "passport_number",
        "document_number",
        "personal_number",
        "number",
        "tax_id",
        "social_security_number",
        "phone",
        "phone_number",
    }
)
DATE_FIELDS: Final = frozenset({"birth_date", "date_of_birth", "birthdate"})
IP_FIELDS: Final = frozenset({"ip", "ip_address"})
MASK: Final = "***"
KEPT_CHARS: Final = 3
LAST_DIGITS: Final = 4


def kind_of(field: str) -> Kind:
    """The masking of a field, by its name (unknown names are personal text)."""
    name = field.lower()
    if name in PUBLIC_FIELDS:
        return Kind.PUBLIC
    if name in NUMBER_FIELDS or name.endswith("_number"):
        return Kind.NUMBER
    if name in DATE_FIELDS:
        return Kind.DATE
    if name in IP_FIELDS:
        return Kind.IP
    return Kind.TEXT


def _mask_ip(text: str) -> str:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return MASK
    if address.version == 4:
        first, second, *_ = text.strip().split(".")
        return f"{first}.{second}.*.*"
    groups = address.exploded.split(":")
    return f"{int(groups[0], 16):x}:{int(groups[1], 16):x}:*"


def mask(value: object, kind: Kind) -> object:
    """The value as shown without `--reveal` (None stays None: absence is not personal)."""
    if value is None or kind is Kind.PUBLIC:
        return value
    text = str(value)
    if kind is Kind.NUMBER:
        return "*" * LAST_DIGITS + text[-LAST_DIGITS:] if len(text) > LAST_DIGITS else MASK
    if kind is Kind.DATE:
        return "****-**-**"
    if kind is Kind.IP:
        return _mask_ip(text)
    return text[:KEPT_CHARS] + MASK if len(text) > KEPT_CHARS else MASK


def shown(value: object, field: str, *, reveal: bool) -> object:
    """The value of `field` as the history shows it: itself with `reveal`, else masked."""
    return value if reveal else mask(value, kind_of(field))
