"""How database failures are classified: the message's fault, worth a retry, or an outage."""

from __future__ import annotations

import pytest

from service.errors import StorageOutage, StorageRejected, StorageUnavailable
from service.store.database import translate


class _Failure(Exception):
    """A driver error carrying a SQLSTATE, as asyncpg's exceptions do."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__("refused")
        self.sqlstate = sqlstate


# The message's own content: the same data fails the same way on any database.
CONTENT = ["22P02", "22001", "22021", "22003", "22007", "23502", "23514", "23P01", "54000"]
# Nobody's writes can succeed: connection, authentication, read-only after a failover,
# privileges, the code ahead of the schema, resources, operator intervention, system errors.
OUTAGE = [
    "08006",
    "08001",
    "08P01",
    "28P01",
    "28000",
    "25006",
    "42501",
    "42703",
    "42P01",
    "42883",
    "42704",
    "3D000",
    "3F000",
    "53100",
    "53200",
    "53300",
    "57P01",
    "57P02",
    "57P03",
    "58030",
    "XX001",
]
# Worth retrying, and counted: a race or a contention that the next attempt may not meet,
# or a code we do not know (see translate's docstring).
RETRY = ["40001", "40P01", "55P03", "57014", "23505", "23503", "25P02", "XX000", "ZZ999"]


@pytest.mark.parametrize("sqlstate", CONTENT)
def test_data_errors_of_the_message_are_permanent(sqlstate: str) -> None:
    """A data exception or an integrity violation caused by the content is refused for good."""
    assert type(translate(_Failure(sqlstate))) is StorageRejected


@pytest.mark.parametrize("sqlstate", OUTAGE)
def test_faults_of_the_database_are_outages(sqlstate: str) -> None:
    """Connection, authentication, privilege, read-only, schema and resource errors are outages."""
    error = translate(_Failure(sqlstate))
    assert type(error) is StorageOutage
    assert sqlstate in error.reason


@pytest.mark.parametrize("sqlstate", RETRY)
def test_races_and_unknown_codes_are_retried_and_counted(sqlstate: str) -> None:
    """Races, contention and unknown SQLSTATEs are transient but not outages."""
    assert type(translate(_Failure(sqlstate))) is StorageUnavailable


@pytest.mark.parametrize("error", [ConnectionRefusedError(), OSError(), TimeoutError()])
def test_a_lost_connection_is_an_outage(error: BaseException) -> None:
    """Errors without a SQLSTATE that mean the server is out of reach are outages."""
    assert type(translate(error)) is StorageOutage
