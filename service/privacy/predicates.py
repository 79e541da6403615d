"""Where one user's data lies: a WHERE clause per table, shared by erasure and export.

Typed `user_id` columns find most rows through their indexes. Quarantine and outbox rows may
name the user only inside the bytes they kept (a dead letter whose user id was not a valid
UUID, a raw report body, a key), so those are also searched for the user id as bytes, in its
lower- and upper-case spellings (sealed bytes never match: a sealed quarantine row names its
user in `sealed_for`); inbox ids may embed it too (`backfill:<user id>:<run>`).
Those searches scan the two tables: fine for an operation run a few times a day, documented.
"""

from __future__ import annotations

import uuid
from typing import Any, Final

from service.errors import InvalidUserId
from service.messages import USER_ERASED

_IN_BYTES: Final = (
    "(position(CAST(:lower_bytes AS bytea) IN {col}) > 0"
    " OR position(CAST(:upper_bytes AS bytea) IN {col}) > 0)"
)


def _bytes_match(*columns: str) -> str:
    return " OR ".join(f"coalesce({_IN_BYTES.format(col=c)}, false)" for c in columns)


# Table -> (ordering column, predicate). Every table that can hold a user's data is listed;
# the integration test scans every column of every table to prove nothing was missed.
USER_ROWS: Final[dict[str, tuple[str, str]]] = {
    "report_snapshots": ("id", "user_id = CAST(:user_uuid AS uuid)"),
    "user_events": ("event_id", "user_id = CAST(:user_uuid AS uuid)"),
    "users": ("user_id", "user_id = CAST(:user_uuid AS uuid)"),
    # Shredded first, in its own transaction (erasure.py); listed so that nothing is missed.
    "data_keys": ("user_id", "user_id = CAST(:user_uuid AS uuid)"),
    "inbox": (
        "message_id",
        "user_id = CAST(:user_uuid AS uuid) OR strpos(lower(message_id), :user_id) > 0",
    ),
    # Erasure notices are left to the relay (published) and to retention (then deleted).
    "outbox": (
        "id",
        f"event_type <> '{USER_ERASED}' AND (user_id = CAST(:user_uuid AS uuid)"
        " OR strpos(lower(CAST(headers AS text)), :user_id) > 0"
        f" OR {_bytes_match('key', 'payload')})",
    ),
    "quarantine": (
        "id",
        "sealed_for = CAST(:user_uuid AS uuid)"
        " OR strpos(lower(coalesce(user_id, '')), :user_id) > 0"
        " OR strpos(lower(message_id), :user_id) > 0"
        f" OR {_bytes_match('input_key', 'input_value', 'report_body')}",
    ),
}


def canonical(user_id: str) -> str:
    """The user id as the service stores it (lower-case, hyphenated), or InvalidUserId."""
    try:
        return str(uuid.UUID(str(user_id).strip()))
    except ValueError:
        raise InvalidUserId("the user id is not a UUID") from None


def parameters(user_id: str) -> dict[str, Any]:
    """The bound parameters of every predicate for this (canonical) user id."""
    return {
        "user_id": user_id,
        # A separate name: PostgreSQL gives one parameter one type (uuid here, text above).
        "user_uuid": user_id,
        "lower_bytes": user_id.encode(),
        "upper_bytes": user_id.upper().encode(),
    }
