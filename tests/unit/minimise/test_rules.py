"""REPORT_MINIMISATION: rule names read from the environment, unknown names refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.minimise import RECOMMENDED_RULES, Minimiser, parse_rules
from service.settings import Settings


def test_rules_are_read_from_comma_separated_names_in_a_fixed_order() -> None:
    """Spaces, case and repeats do not matter; the rules come back in the documented order."""
    assert parse_rules(" MRZ, media_links ,mrz,,device_ips") == ("media_links", "device_ips", "mrz")


def test_rules_printed_by_python_read_back() -> None:
    """A tuple or list as Python prints it (how the tests pass settings to a subprocess)."""
    assert parse_rules(str(("mrz", "media_links"))) == ("media_links", "mrz")
    assert parse_rules(str(["device_ips"])) == ("device_ips",)
    assert parse_rules(str(())) == ()


@pytest.mark.parametrize("text", ["none", "", " , ", "NONE"])
def test_none_or_nothing_means_no_rule(text: str) -> None:
    """`none` (or an empty list) keeps whole reports."""
    assert parse_rules(text) == ()


def test_an_unknown_rule_is_refused_by_name() -> None:
    """A typo is an error naming it, never a rule silently not applied."""
    with pytest.raises(ValueError, match="media_link'"):
        parse_rules("media_link")
    with pytest.raises(ValueError, match="unknown minimisation rules"):
        Minimiser(["media_link"])


def test_minimisation_is_off_by_default_and_the_recommended_set_is_documented() -> None:
    """Unset, REPORT_MINIMISATION keeps whole reports (its CPU cost is over the budget of a
    default); the recommended set drops links, boxes, IPs, numbers but the last four, MRZ."""
    settings = Settings(alice_api_key="k")  # type: ignore[arg-type]
    assert settings.report_minimisation == ()
    assert set(RECOMMENDED_RULES) == {
        "media_links",
        "bounding_boxes",
        "device_ips",
        "document_number_last4",
        "mrz",
    }


def test_the_setting_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """REPORT_MINIMISATION=none turns minimisation off; a list selects rules; a typo fails."""
    monkeypatch.setenv("ALICE_API_KEY", "k")
    monkeypatch.setenv("REPORT_MINIMISATION", "none")
    assert Settings().report_minimisation == ()  # type: ignore[call-arg]
    monkeypatch.setenv("REPORT_MINIMISATION", "addresses,birth_dates")
    assert Settings().report_minimisation == ("addresses", "birth_dates")  # type: ignore[call-arg]
    monkeypatch.setenv("REPORT_MINIMISATION", "adresses")
    with pytest.raises(ValidationError, match="adresses"):
        Settings()  # type: ignore[call-arg]
