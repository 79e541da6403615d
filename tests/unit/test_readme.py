"""The README documents what the service really has."""

from __future__ import annotations

import re
from pathlib import Path

from service.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_in_the_readme_table() -> None:
    """Each field of Settings has a row in the README's settings table, and no row is stale."""
    rows = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", README.read_text(), flags=re.MULTILINE))
    fields = {name.upper() for name in Settings.model_fields}
    assert fields - rows == set(), "settings missing from the README"
    assert rows - fields == set(), "README rows for settings that do not exist"
