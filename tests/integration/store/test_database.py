"""The database adapter on the real PostgreSQL: errors never quote the values they were given."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from service.errors import StorageRejected
from service.settings import Settings
from service.store.database import Database

# What a bound parameter may hold: a name and a document number from a report.
PERSONAL_VALUE = "Jane Quixote-Doe 99887766Q"


async def test_a_failing_statement_does_not_quote_its_bound_parameters(
    database_url: str,
) -> None:
    """A statement that fails on the server raises an error whose text, and whose cause's text,
    hold neither the bound value nor any part of it (SQLAlchemy's hide_parameters)."""
    settings = Settings(database_url=database_url, alice_api_key="k")  # type: ignore[arg-type]
    database = Database.from_settings(settings)
    try:
        with pytest.raises(StorageRejected) as raised:
            async with database.transaction() as connection:
                await connection.execute(
                    text("SELECT CAST(:name AS text), 1 / 0"), {"name": PERSONAL_VALUE}
                )
    finally:
        await database.aclose()
    cause = raised.value.__cause__
    assert cause is not None
    texts = [str(raised.value), str(cause), repr(cause)]
    assert "division by zero" in str(cause)  # the failure is the one provoked above
    for part in PERSONAL_VALUE.split():
        assert not [t for t in texts if part in t]
    assert "hidden" in str(cause)
