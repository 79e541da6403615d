"""Pure helpers that read Alice's answers: sanitised error reasons, `Retry-After`, status classes.

Nothing here does I/O, so the retry policy and the error classification are unit-tested
as tables.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import math
from enum import Enum

from service.errors import AliceRejected, AliceUserNotFound, IngestorError

MAX_REASON_CHARS = 160
MAX_REASON_WORDS = 16
WITHHELD = "…"
_PUNCTUATION = ".,;:!?()[]{}<>\"'`"

# The words an API error phrase is made of. Alice's error text is free text: it may quote the
# request or the user ("User Jane Doe not found"), and a reason travels into logs, the
# quarantine and dead-letter headers, so only these words are copied (compared lower-case).
# Hand-written because no library classifies words as "safe to log"; extend it when a new
# Alice phrase reads badly.
VOCABULARY = frozenset(
    """
    a an the is are was were be been has have had not no and or of for to in on at by with
    from this that it its please try again later too many more than only must should can
    cannot could does do did exist exists already yet without
    alice user users report reports document documents selfie selfies media file files
    version header headers parameter parameters field fields value values body request
    requests response method endpoint path query resource feature features service server
    client credentials credential key keys api apikey token tokens login backend bearer
    authorization authentication session account onboarding sandbox id uuid jwt json
    content type format length size limit limits rate quota time timeout minute seconds
    found unknown invalid valid missing required expired revoked disabled enabled allowed
    forbidden denied permission permissions unauthorized unauthorised authenticated
    authorized supported unsupported deleted removed exceeded reached failed failure error
    errors internal unavailable available busy overloaded maintenance bad wrong malformed
    unprocessable conflict duplicate pending processing ready completed incomplete empty
    large gateway temporarily unexpected exception occurred retry slow down
    """.split()  # noqa: SIM905 - a word list reads better as text than as 200 quoted strings
)


class Outcome(Enum):
    """What the client does with a status code."""

    OK = "ok"
    UNAUTHORIZED = "unauthorized"  # drop the token, fetch a new one, retry once
    RETRY = "retry"  # transient: back off and try again (stamina)
    FAIL = "fail"  # permanent: raise at once


def outcome_for(status: int) -> Outcome:
    """Classify an HTTP status: 2xx ok, 401 re-auth, 408/429/5xx retry, any other fail."""
    if 200 <= status < 300:
        return Outcome.OK
    if status == 401:
        return Outcome.UNAUTHORIZED
    # 408 is the server saying our request took too long: as transient as a timeout.
    if status in (408, 429) or status >= 500:
        return Outcome.RETRY
    return Outcome.FAIL


def permanent_error(status: int, reason: str) -> IngestorError:
    """The permanent error for a status that `outcome_for` classifies as FAIL."""
    if status == 404:
        return AliceUserNotFound(reason, status=status)
    # 400/403/405/422, any other 4xx, and 1xx/3xx (we never follow redirects: a redirect
    # from an API that does not document any is a misconfiguration, not a transient state).
    return AliceRejected(reason, status=status)


def sanitised_reason(text: str) -> str:
    """Alice's error text reduced to words of `VOCABULARY`, at most MAX_REASON_WORDS of them.

    Every other word (a name, a number, an e-mail address, an id, anything we do not know) is
    withheld as one `…` per run, control characters are gone with the words they separate, and
    the result is bounded by MAX_REASON_CHARS: "User Jane Doe (12345678Z) not found" gives
    "User … not found". A vocabulary word that is also someone's name can pass; alone, in an
    error phrase, it identifies no one.
    """
    parts: list[str] = []
    for raw in text.split():
        word = raw.strip(_PUNCTUATION)
        if word.isascii() and word.isalpha() and word.lower() in VOCABULARY:
            parts.append(word)
        elif not parts or parts[-1] != WITHHELD:
            parts.append(WITHHELD)
    if not [part for part in parts if part != WITHHELD]:
        return "error detail withheld"
    if len(parts) > MAX_REASON_WORDS:
        parts = [*parts[: MAX_REASON_WORDS - 1], WITHHELD]
    reason = " ".join(parts)
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 1] + WITHHELD
    return reason


def error_reason(body: bytes) -> str:
    """A short, sanitised reason from an error body (`{"detail": ...}` or
    `{"error": {"message": ...}}`), never Alice's text itself (see `sanitised_reason`).

    A body that is empty, not JSON or of another shape gives a fixed phrase, so that an HTML
    error page or an echoed request never ends up in an exception message.
    """
    if not body.strip():
        return "empty error body"
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return "error body is not JSON"
    if isinstance(document, dict):
        detail = document.get("detail")
        if isinstance(detail, str) and detail.strip():
            return sanitised_reason(detail)
        if isinstance(detail, list):
            # FastAPI-style validation errors: their `input` echoes what was sent; count only.
            return f"request validation failed ({len(detail)} errors)"
        error = document.get("error")
        if isinstance(error, dict):
            message = error.get("message")
            if isinstance(message, str) and message.strip():
                return sanitised_reason(message)
    return "unrecognised error body"


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP-date), or None.

    `now` is the current POSIX time, used for the HTTP-date form. A date in the past gives 0;
    a missing, negative or unreadable value gives None (the caller falls back to its own
    exponential backoff).
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds) and seconds >= 0:
            return seconds
        return None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000" parses naive; HTTP dates are GMT anyway
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp() - now)
