"""Unexpected errors are described for logs by type and place, never by their text."""

from __future__ import annotations

from service.errors import error_location


def test_error_location_names_the_place_and_not_the_data() -> None:
    """The description points at the raising line and does not quote the message's data."""
    report = {"first_name": "CARMEN"}
    try:
        report["document_number_" + report["first_name"]]
    except KeyError as exc:
        where = error_location(exc)
    assert where.startswith("test_errors.py:")
    assert "in test_error_location_names_the_place_and_not_the_data" in where
    assert "CARMEN" not in where
