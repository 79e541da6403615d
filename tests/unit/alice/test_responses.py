"""Reading Alice's answers: status classes, error reasons and `Retry-After`."""

from __future__ import annotations

import email.utils
import json

import pytest

from service.alice.responses import (
    MAX_REASON_CHARS,
    MAX_REASON_WORDS,
    Outcome,
    error_reason,
    outcome_for,
    parse_retry_after,
    permanent_error,
)
from service.errors import AliceRejected, AliceUserNotFound

NOW = 1_800_000_000.0


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.OK),
        (204, Outcome.OK),
        (401, Outcome.UNAUTHORIZED),
        (408, Outcome.RETRY),
        (429, Outcome.RETRY),
        (500, Outcome.RETRY),
        (502, Outcome.RETRY),
        (503, Outcome.RETRY),
        (504, Outcome.RETRY),
        (301, Outcome.FAIL),
        (400, Outcome.FAIL),
        (403, Outcome.FAIL),
        (404, Outcome.FAIL),
        (405, Outcome.FAIL),
        (409, Outcome.FAIL),
        (422, Outcome.FAIL),
    ],
)
def test_outcome_for_status(status: int, outcome: Outcome) -> None:
    """Only 408, 429 and 5xx are retried; 401 re-authenticates; other non-2xx fail at once."""
    assert outcome_for(status) is outcome


def test_404_is_an_unknown_user() -> None:
    """A 404 becomes `AliceUserNotFound`, a permanent error carrying the status."""
    error = permanent_error(404, "User not found")
    assert isinstance(error, AliceUserNotFound)
    assert error.status == 404
    assert not error.transient


@pytest.mark.parametrize("status", [400, 403, 405, 422, 418])
def test_other_4xx_are_rejections(status: int) -> None:
    """400/403/405/422 and any other 4xx become a permanent `AliceRejected`."""
    error = permanent_error(status, "no")
    assert type(error) is AliceRejected
    assert error.status == status
    assert not error.transient


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"detail": "User not found"}', "User not found"),
        (b'{"error": {"message": "Feature disabled", "type": "x"}}', "Feature disabled"),
        (
            b'{"detail": [{"loc": ["q"], "msg": "bad", "input": "Jane"}]}',
            "request validation failed (1 errors)",
        ),
        (b'{"detail": "Invalid API key."}', "Invalid API key"),
        (
            b'{"detail": "Feature not enabled for these credentials"}',
            "Feature not enabled for … credentials",
        ),
        (b'{"detail": "Jane Doe 12345678Z"}', "error detail withheld"),
        (b"", "empty error body"),
        (b"  \n", "empty error body"),
        (b"<html>502 Bad Gateway</html>", "error body is not JSON"),
        (b"\xff\xfe", "error body is not JSON"),
        (b'{"message": "other shape"}', "unrecognised error body"),
        (b'"just a string"', "unrecognised error body"),
        (b'{"detail": ""}', "unrecognised error body"),
        (b'{"error": "flat"}', "unrecognised error body"),
    ],
)
def test_error_reason(body: bytes, reason: str) -> None:
    """The reason comes from `detail` or `error.message`, else a fixed phrase for the shape."""
    assert error_reason(body) == reason


HOSTILE_DETAIL = (
    "User Jane Quixote-Doe (DNI 12345678Z, jane.doe@example.com, born 1990-01-31) not found"
    "\r\n2026-12-01 level=error user_id=admin forged log line\n" + "Zyxwvut " * 2000
)


def test_hostile_detail_gives_a_sanitised_bounded_reason() -> None:
    """A detail with a name, a document number, an e-mail, newlines and 16 KB of text gives a
    one-line reason of at most MAX_REASON_CHARS and MAX_REASON_WORDS holding none of them."""
    for body in (
        json.dumps({"detail": HOSTILE_DETAIL}).encode(),
        json.dumps({"error": {"message": HOSTILE_DETAIL, "type": "x"}}).encode(),
    ):
        reason = error_reason(body)
        assert reason.startswith("User … not found …")
        assert len(reason) <= MAX_REASON_CHARS
        assert len(reason.split()) <= MAX_REASON_WORDS
        assert reason.isprintable()
        for leaked in ("Jane", "Quixote", "Doe", "12345678Z", "example", "1990", "admin", "Zyx"):
            assert leaked not in reason


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("1", 1.0),
        (" 30 ", 30.0),
        ("0", 0.0),
        ("1.5", 1.5),
        (email.utils.formatdate(NOW + 7, usegmt=True), 7.0),
        (email.utils.formatdate(NOW - 60, usegmt=True), 0.0),
        (None, None),
        ("", None),
        ("-3", None),
        ("soon", None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    """Delta-seconds and HTTP-dates give the wait; a past date gives 0; junk gives None."""
    assert parse_retry_after(header, now=NOW) == seconds
