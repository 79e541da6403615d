"""Validation of the user id before it is ever put into a URL path.

The id reaches us from a Kafka event, so it is untrusted input: `../users`, `%2e%2e`, a
query string or a megabyte of junk must never reach Alice's URL space. Alice user ids are
UUIDs written in the 36-character hyphenated form; we accept exactly that shape (any case,
ASCII only) and send the canonical lower-case text of the parsed UUID. Braced, `urn:uuid:`
and unhyphenated spellings are refused on purpose: they would mean that an upstream system
mangles ids, which is worth a dead letter rather than a silent rewrite.
"""

from __future__ import annotations

import re
import uuid

from service.errors import InvalidUserId

_UUID_SHAPE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", re.ASCII
)


def canonical_user_id(value: object) -> str:
    """Return the canonical text of a UUID user id, or raise `InvalidUserId`.

    The reason never repeats the refused value: it is untrusted text headed for logs.
    """
    if not isinstance(value, str):
        raise InvalidUserId("user id is not a string")
    # fullmatch, not match: `$` would let a trailing newline through.
    if _UUID_SHAPE.fullmatch(value) is None:
        raise InvalidUserId("user id is not a UUID")
    return str(uuid.UUID(value))
