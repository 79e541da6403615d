"""Masking of personal values in the history (pure)."""

from __future__ import annotations

import pytest

from service.history.masking import Kind, kind_of, mask, shown


@pytest.mark.parametrize(
    ("field", "value", "masked"),
    [
        ("first_name", "CARMEN", "CAR***"),
        ("last_name", "ESPAÑOLA ESPAÑOLA", "ESP***"),
        ("address", "AVDA DE MADRID S-N, MADRID, MADRID", "AVD***"),
        ("email", "carmen@example.com", "car***"),
        ("id_number", "99999999R", "****999R"),
        ("passport_number", "PAA000589", "****0589"),
        ("birth_date", "1980-01-01", "****-**-**"),
        ("ip", "203.0.113.24", "203.0.*.*"),
        ("ip", "2001:db8::1", "2001:db8:*"),
        ("ip", "not an address", "***"),
        ("gender", "F", "***"),
        ("some_new_field", "Something personal", "Som***"),
        ("nationality", "ESP", "ESP"),
        ("expiration_date", "2031-06-08", "2031-06-08"),
        ("id_number", "1234", "***"),
        ("first_name", None, None),
    ],
)
def test_values_are_masked_by_field(field: str, value: object, masked: object) -> None:
    """Each kind of personal value is masked its own way; public fields and nulls stay."""
    assert shown(value, field, reveal=False) == masked


def test_reveal_shows_the_value() -> None:
    """With reveal, the value is shown as stored."""
    assert shown("99999999R", "id_number", reveal=True) == "99999999R"


def test_unknown_fields_are_personal_text() -> None:
    """A field name the service does not know is masked as personal text, never shown."""
    assert kind_of("mothers_maiden_name") is Kind.TEXT
    assert mask(12345678, Kind.TEXT) == "123***"
