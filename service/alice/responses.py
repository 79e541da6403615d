"""Pure helpers that read Alice's answers: error reasons, `Retry-After`, status classes.

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

MAX_REASON_CHARS = 200


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


def _clean(text: str) -> str:
    """Collapse control characters (log injection) and truncate to MAX_REASON_CHARS."""
    printable = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    if len(printable) > MAX_REASON_CHARS:
        return printable[: MAX_REASON_CHARS - 1] + "…"
    return printable


def error_reason(body: bytes) -> str:
    """A short reason from an error body, `{"detail": ...}` or `{"error": {"message": ...}}`.

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
            return _clean(detail)
        if detail is not None and not isinstance(detail, str):
            # FastAPI-style validation errors: a list of objects; keep their compact JSON.
            return _clean(json.dumps(detail, separators=(",", ":"), ensure_ascii=False))
        error = document.get("error")
        if isinstance(error, dict):
            message = error.get("message")
            if isinstance(message, str) and message.strip():
                return _clean(message)
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
